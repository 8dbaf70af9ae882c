package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Writer;
import io.metcd.model.Command;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.microraft.RaftEndpoint;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the WAL's tests share: stores opened on a temporary directory, closed after each test, and their data. */
abstract class WalTest {
    static final RaftModelFactory MODEL = new DefaultRaftModelFactory();
    static final Member ME = new Member(1, "http://127.0.0.1:13379");
    static final Member OTHER = new Member(2, "http://127.0.0.1:13380");
    /** Small cycle files keep the tests' sparse files small and make compaction happen quickly. */
    static final long CYCLE_BYTES = 256 * 1024;

    /** The WAL's directory; its snapshots are in {@link #snapDir}. */
    @TempDir
    Path dir;
    @TempDir
    Path snapDir;

    final AtomicInteger failures = new AtomicInteger();
    final List<ChronicleRaftStore> opened = new ArrayList<>();

    @AfterEach
    void closeStores() {
        opened.forEach(ChronicleRaftStore::close);
    }

    ChronicleRaftStore open() {
        return open(CYCLE_BYTES);
    }

    ChronicleRaftStore open(long cycleBytes) {
        ChronicleRaftStore store = openWal(dir, snapDir, cycleBytes, countingFailures());
        opened.add(store);
        return store;
    }

    /** A WAL in {@code walDir} with its snapshots in {@code snapDir}, as a node opens them. */
    static ChronicleRaftStore openWal(Path walDir, Path snapDir, long cycleBytes, FailStop failStop) {
        return ChronicleRaftStore.open(walDir, SnapshotFiles.open(snapDir, SnapshotFiles.CHUNK_BYTES, failStop),
                cycleBytes, failStop);
    }

    /** Counts in {@link #failures} the times the store stopped the node. */
    FailStop countingFailures() {
        return new FailStop(dir, failure -> failures.incrementAndGet());
    }

    ChronicleRaftStore openRestored() {
        ChronicleRaftStore store = open();
        assertTrue(store.restore().isEmpty());
        return store;
    }

    ChronicleRaftStore reopen(ChronicleRaftStore store) {
        store.close();
        return open();
    }

    static void persistIdentity(ChronicleRaftStore store) throws IOException {
        store.persistAndFlushLocalEndpoint(
                MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(ME).setVoting(true).build());
        store.persistAndFlushInitialGroupMembers(members(0));
        store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(1).setVotedFor(ME).build());
    }

    static RaftGroupMembersView members(long logIndex) {
        List<RaftEndpoint> all = List.of(ME, OTHER);
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(logIndex).setMembers(all)
                .setVotingMembers(all).build();
    }

    /** An entry of about 300 bytes, the size of a small client write with its key. */
    static LogEntry entry(long index, int term) {
        return entry(index, term, "value-" + index + "-".repeat(250));
    }

    static LogEntry entry(long index, int term, String value) {
        Operation.Proposal put = new Operation.Proposal(1, index, Command.put("key/" + index, value.getBytes(StandardCharsets.UTF_8)));
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(term)
                .setOperation(new Operation.Batch(0, List.of(put))).build();
    }

    static List<LogEntry> entries(long from, long to, int term) {
        return LongStream.rangeClosed(from, to).mapToObj(i -> entry(i, term)).toList();
    }

    static byte[] chunkBytes(long snapshotIndex, int chunkIndex) {
        byte[] bytes = new byte[4096];
        Arrays.fill(bytes, (byte) (snapshotIndex * 31 + chunkIndex));
        return bytes;
    }

    static SnapshotChunk chunk(long snapshotIndex, int term, int chunkIndex, int chunkCount) {
        return MODEL.createSnapshotChunkBuilder().setIndex(snapshotIndex).setTerm(term)
                .setOperation(new Operation.SnapshotPart(chunkBytes(snapshotIndex, chunkIndex)))
                .setSnapshotChunkIndex(chunkIndex).setSnapshotChunkCount(chunkCount)
                .setGroupMembersView(members(0)).build();
    }

    @SuppressWarnings("unchecked")
    static Operation.SnapshotPart firstPart(SnapshotEntry snapshot) {
        return (Operation.SnapshotPart) ((List<SnapshotChunk>) snapshot.getOperation()).get(0).getOperation();
    }

    /** Entries carry byte arrays, which records compare by identity: compare their encodings instead. */
    static void assertEntries(List<LogEntry> expected, List<LogEntry> actual) {
        assertEquals(expected.stream().map(LogEntry::getIndex).toList(),
                actual.stream().map(LogEntry::getIndex).toList());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(encode(expected.get(i)), encode(actual.get(i)), "entry " + expected.get(i).getIndex());
        }
    }

    static byte[] encode(LogEntry entry) {
        Writer out = new Writer(512);
        Codec.writeLogEntry(out, entry);
        return out.toByteArray();
    }

    static long countRecords(ChronicleRaftStore store) {
        long count = 0;
        try (ExcerptTailer tailer = store.queue().createTailer()) {
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        return count;
                    }
                    count++;
                }
            }
        }
    }

    static long lastRecordHeaderPosition(ChronicleRaftStore store) {
        long position = -1;
        try (ExcerptTailer tailer = store.queue().createTailer()) {
            while (true) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        return position;
                    }
                    position = dc.wire().bytes().readPosition() - 4;
                }
            }
        }
    }

    Path cycleFile() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
    }

    int cycleFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return (int) files.filter(f -> f.toString().endsWith(".cq4")).count();
        }
    }

    /** Flips the bytes of {@code marker} where they lie in a cycle file, as a write torn by a crash would leave it. */
    void corrupt(String marker) throws IOException {
        byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
        int hits = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".cq4")).toList()) {
                byte[] bytes = Files.readAllBytes(file);
                for (int at = indexOf(bytes, needle, 0); at >= 0; at = indexOf(bytes, needle, at + 1)) {
                    for (int i = 0; i < needle.length; i++) {
                        bytes[at + i] ^= (byte) 0xff;
                    }
                    hits++;
                    Files.write(file, bytes);
                }
            }
        }
        assertEquals(1, hits, "the marker should be in the log exactly once");
    }

    static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
