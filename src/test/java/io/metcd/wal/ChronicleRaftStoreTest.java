package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Writer;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.model.message.RaftMessage;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.statemachine.StateMachine;
import io.microraft.transport.Transport;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChronicleRaftStoreTest {
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();
    private static final Member ME = new Member(1, "http://127.0.0.1:13379");
    private static final Member OTHER = new Member(2, "http://127.0.0.1:13380");
    /** Small cycle files keep the tests' sparse files small and make compaction happen quickly. */
    private static final long CYCLE_BYTES = 256 * 1024;

    @TempDir
    Path dir;

    private final AtomicInteger failures = new AtomicInteger();
    private final List<ChronicleRaftStore> opened = new ArrayList<>();

    @AfterEach
    void closeStores() {
        opened.forEach(ChronicleRaftStore::close);
    }

    @Test
    void newDirectoryRestoresNothing() {
        assertTrue(open().restore().isEmpty());
    }

    @Test
    void appendedStateIsRestored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(3).setVotedFor(OTHER).build());
        store.persistLogEntries(List.of(entry(1, 1), entry(2, 1), entry(3, 2)));
        store.persistLogEntries(List.of(entry(4, 3)));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(ME, state.getLocalEndpointPersistentState().getLocalEndpoint());
        assertTrue(state.getLocalEndpointPersistentState().isVoting());
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getMembers()));
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getVotingMembers()));
        assertEquals(0, state.getInitialGroupMembers().getLogIndex());
        assertEquals(3, state.getTermPersistentState().getTerm());
        assertEquals(OTHER, state.getTermPersistentState().getVotedFor());
        assertNull(state.getSnapshotEntry());
        assertEntries(List.of(entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3)), state.getLogEntries());
    }

    @Test
    void aBatchOfEntriesIsOneRecord() throws IOException {
        ChronicleRaftStore store = openRestored();
        long before = countRecords(store);

        store.persistLogEntries(LongStream.rangeClosed(1, 100).mapToObj(i -> entry(i, 1)).toList());

        assertEquals(before + 1, countRecords(store));
    }

    @Test
    void truncatedTailIsReplacedByLaterAppends() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.truncateLogEntriesFrom(7);
        store.persistLogEntries(entries(7, 9, 2));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        List<LogEntry> expected = new ArrayList<>(entries(1, 6, 1));
        expected.addAll(entries(7, 9, 2));
        assertEntries(expected, state.getLogEntries());
    }

    @Test
    void completeSnapshotIsRestoredWithTheEntriesAfterIt() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 20, 1));
        for (int chunk : new int[] {2, 0, 1}) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        SnapshotEntry snapshot = state.getSnapshotEntry();
        assertEquals(10, snapshot.getIndex());
        assertEquals(1, snapshot.getTerm());
        assertEquals(3, snapshot.getSnapshotChunkCount());
        @SuppressWarnings("unchecked")
        List<SnapshotChunk> chunks = (List<SnapshotChunk>) snapshot.getOperation();
        for (int i = 0; i < 3; i++) {
            assertEquals(i, chunks.get(i).getSnapshotChunkIndex());
            assertArrayEquals(chunkBytes(10, i), ((Operation.SnapshotPart) chunks.get(i).getOperation()).bytes());
        }
        assertEquals(List.of(ME, OTHER), List.copyOf(snapshot.getGroupMembersView().getMembers()));
        assertEntries(entries(11, 20, 1), state.getLogEntries());
    }

    @Test
    void aPersistedChunkLetsGoOfItsBytesAndReadsThemFromTheLog() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk chunk = chunk(10, 1, 0, 1);
        Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();

        store.persistSnapshotChunk(chunk);

        assertTrue(part.liesIn(store), part::toString);
        assertArrayEquals(chunkBytes(10, 0), part.bytes());
    }

    @Test
    void restoreLeavesTheSnapshotsChunksInTheLog() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.persistSnapshotChunk(chunk(10, 1, 0, 1));
        store.flush();

        ChronicleRaftStore reopened = reopen(store);
        SnapshotEntry snapshot = reopened.restore().orElseThrow().getSnapshotEntry();

        Operation.SnapshotPart part = firstPart(snapshot);
        assertTrue(part.liesIn(reopened), part::toString);
        assertArrayEquals(chunkBytes(10, 0), part.bytes());
    }

    @Test
    void stagedChunksMakeASnapshotOnceMicroRaftPersistsThem() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        long recordsBefore = countRecords(store);
        List<Operation.SnapshotPart> staged = List.of(store.stageSnapshotChunk(10, chunkBytes(10, 0)),
                store.stageSnapshotChunk(10, chunkBytes(10, 1)));
        for (int i = 0; i < staged.size(); i++) {
            store.persistSnapshotChunk(MODEL.createSnapshotChunkBuilder().setIndex(10).setTerm(1)
                    .setOperation(staged.get(i)).setSnapshotChunkIndex(i).setSnapshotChunkCount(2)
                    .setGroupMembersView(members(0)).build());
        }
        store.flush();
        // Each chunk's bytes were written once, and one small reference to them.
        assertEquals(recordsBefore + 2L * staged.size(), countRecords(store));

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        @SuppressWarnings("unchecked")
        List<SnapshotChunk> chunks = (List<SnapshotChunk>) state.getSnapshotEntry().getOperation();
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(chunkBytes(10, i), ((Operation.SnapshotPart) chunks.get(i).getOperation()).bytes());
        }
    }

    /**
     * A leader reads chunks back on its transport's threads, a store as it loads them, while the Raft thread appends:
     * a checksum that one of them computes must not take in the other's bytes.
     */
    @Test
    void chunksReadOnOtherThreadsWhileTheLogIsAppendedToLeaveEveryRecordIntact() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk chunk = chunk(1, 1, 0, 1);
        store.persistSnapshotChunk(chunk);
        store.flush();
        long location = ((Operation.SnapshotPart) chunk.getOperation()).location();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Throwable> readFailures = new CopyOnWriteArrayList<>();
        List<Thread> readers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            readers.add(Thread.ofPlatform().start(() -> {
                while (writing.get()) {
                    try {
                        assertArrayEquals(chunkBytes(1, 0), store.readChunk(location));
                    } catch (Throwable e) {
                        readFailures.add(e);
                        return;
                    }
                }
            }));
        }
        try {
            // After the snapshot at index 1.
            for (long index = 2; index <= 3001; index++) {
                store.persistLogEntries(List.of(entry(index, 1)));
                if (index % 100 == 0) {
                    store.flush();
                }
            }
            store.flush();
        } finally {
            writing.set(false);
            for (Thread reader : readers) {
                reader.join();
            }
        }

        assertEquals(List.of(), readFailures);
        assertEquals(3000, reopen(store).restore().orElseThrow().getLogEntries().size());
        assertEquals(0, failures.get());
    }

    @Test
    void aDamagedChunkFailsWhenItIsRead() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.persistSnapshotChunk(MODEL.createSnapshotChunkBuilder().setIndex(10).setTerm(1)
                .setOperation(new Operation.SnapshotPart("CHUNK-MARKER".getBytes(StandardCharsets.UTF_8)))
                .setSnapshotChunkIndex(0).setSnapshotChunkCount(1).setGroupMembersView(members(0)).build());
        store.flush();
        store.close();
        corrupt("CHUNK-MARKER");

        SnapshotEntry snapshot = open().restore().orElseThrow().getSnapshotEntry();

        Operation.SnapshotPart part = firstPart(snapshot);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, part::bytes);
        assertTrue(e.getMessage().contains("damaged snapshot chunk"), e::toString);
    }

    @Test
    void chunksOfASnapshotBeingLoadedOutliveANewerSnapshotUntilReleased() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        SnapshotChunk older = chunk(10, 1, 0, 1);
        store.persistSnapshotChunk(older);
        store.flush();
        Operation.SnapshotPart loading = (Operation.SnapshotPart) older.getOperation();
        store.holdChunks(10);
        // Enough log after it for compaction to have whole cycles to delete.
        store.persistLogEntries(entries(11, 3000, 1));
        store.persistSnapshotChunk(chunk(3000, 1, 0, 1));
        store.flush();

        store.truncateLogEntriesUntil(3000);
        assertArrayEquals(chunkBytes(10, 0), loading.bytes());

        store.releaseChunks(10);
        store.truncateLogEntriesUntil(3000);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, loading::bytes);
        assertTrue(e.getMessage().contains("no longer holds"), e::toString);
    }

    @Test
    void incompleteSnapshotIsIgnored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        store.persistSnapshotChunk(chunk(20, 1, 0, 3));
        store.persistSnapshotChunk(chunk(20, 1, 1, 3));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEntries(entries(11, 25, 1), state.getLogEntries());
    }

    @Test
    void snapshotAheadOfTheLogDiscardsEarlierEntries() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 5, 1));
        for (int chunk = 0; chunk < 2; chunk++) {
            store.persistSnapshotChunk(chunk(50, 2, chunk, 2));
        }
        store.flush();
        store.truncateLogEntriesUntil(50);
        store.persistLogEntries(entries(51, 53, 2));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(50, state.getSnapshotEntry().getIndex());
        assertEquals(2, state.getSnapshotEntry().getTerm());
        assertEntries(entries(51, 53, 2), state.getLogEntries());
    }

    @Test
    void deletedSnapshotChunksAreIgnored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(20, 1, chunk, 3));
        }
        store.deleteSnapshotChunks(20, 3);
        // A chunk written after the deletion starts the snapshot afresh; the deleted ones do not count towards it.
        store.persistSnapshotChunk(chunk(20, 1, 2, 3));
        store.flush();
        assertEquals(10, store.lastSnapshotIndex());

        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEquals(10, reopened.lastSnapshotIndex());
        assertEntries(entries(11, 25, 1), state.getLogEntries());
    }

    @Test
    void compactionKeepsDiskBoundedUnderALongWriteLoad() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        int term = 1;
        long snapshotIndex = 0;
        int maxFiles = 0;
        for (long index = 1; index <= 30_000; index += 10) {
            store.persistLogEntries(entries(index, index + 9, term));
            store.flush();
            long last = index + 9;
            if (last % 1000 == 0) {
                snapshotIndex = last;
                store.persistSnapshotChunk(chunk(snapshotIndex, term, 0, 2));
                store.persistSnapshotChunk(chunk(snapshotIndex, term, 1, 2));
                store.flush();
                store.truncateLogEntriesUntil(snapshotIndex);
                store.flush();
            }
            if (last % 7000 == 0) {
                store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(++term).build());
            }
            maxFiles = Math.max(maxFiles, cycleFiles());
        }
        store.persistLogEntries(entries(30_001, 30_005, term));
        store.flush();

        // About 10 MB of log went through 256 KiB cycles: without compaction that would be ~40 files.
        assertTrue(store.queue().lastCycle() >= 30, "only " + store.queue().lastCycle() + " cycles");
        assertTrue(maxFiles <= 4, maxFiles + " cycle files at once");
        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();
        assertEquals(ME, state.getLocalEndpointPersistentState().getLocalEndpoint());
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getMembers()));
        assertEquals(term, state.getTermPersistentState().getTerm());
        assertEquals(snapshotIndex, state.getSnapshotEntry().getIndex());
        assertEquals(30_000, reopened.lastSnapshotIndex());
        assertEntries(entries(30_001, 30_005, term), state.getLogEntries());
    }

    @Test
    void tornTailRecordIsDroppedAndTheStoreStillAppends() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 3, 1));
        store.persistLogEntries(List.of(entry(4, 1, "TORN-TAIL-MARKER")));
        store.flush();
        store.close();
        corrupt("TORN-TAIL-MARKER");

        ChronicleRaftStore reopened = open();
        assertEntries(entries(1, 3, 1), reopened.restore().orElseThrow().getLogEntries());
        reopened.persistLogEntries(entries(4, 5, 2));
        reopened.flush();

        RestoredRaftState state = reopen(reopened).restore().orElseThrow();
        List<LogEntry> expected = new ArrayList<>(entries(1, 3, 1));
        expected.addAll(entries(4, 5, 2));
        assertEntries(expected, state.getLogEntries());
    }

    @Test
    void recordLeftOpenByAKilledProcessIsDroppedAndTheStoreStillAppends() throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), KilledWriter.class.getName(),
                dir.toString()));
        Process writer = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(writer.waitFor(60, TimeUnit.SECONDS), "the writer did not die");
        assertEquals(KilledWriter.HALTED, writer.exitValue());

        ChronicleRaftStore store = open();
        assertEntries(entries(1, 3, 1), store.restore().orElseThrow().getLogEntries());
        store.persistLogEntries(entries(4, 5, 2));
        store.flush();

        List<LogEntry> expected = new ArrayList<>(entries(1, 3, 1));
        expected.addAll(entries(4, 5, 2));
        assertEntries(expected, reopen(store).restore().orElseThrow().getLogEntries());
    }

    /** Dies like kill -9 in the middle of appending a record. */
    static final class KilledWriter {
        static final int HALTED = 42;

        public static void main(String[] args) throws IOException {
            ChronicleRaftStore store = ChronicleRaftStore.open(Path.of(args[0]), CYCLE_BYTES,
                    new FailStop(Path.of(args[0]), failure -> { }));
            store.restore();
            persistIdentity(store);
            store.persistLogEntries(entries(1, 3, 1));
            store.flush();
            DocumentContext dc = store.queue().createAppender().writingDocument();
            dc.wire().bytes().write(new byte[100]);
            Runtime.getRuntime().halt(HALTED);
        }
    }

    @Test
    void recordHeaderLeftIncompleteUnderChroniclesWritePositionFailsRestore() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 3, 1));
        store.flush();
        long headerAt = lastRecordHeaderPosition(store);
        Path file = cycleFile();
        store.close();
        // Set the last record's header back to "being written": Chronicle then appends after it but never reads past it.
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(header, headerAt);
            header.putInt(0, header.getInt(0) | 0x8000_0000).rewind();
            channel.write(header, headerAt);
        }

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> open().restore());
        assertTrue(e.getCause().getCause().getMessage().contains("cannot be read past"), e::toString);
    }

    @Test
    void damagedRecordFollowedByIntactOnesFailsRestore() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(List.of(entry(1, 1, "MIDDLE-MARKER")));
        store.persistLogEntries(entries(2, 3, 1));
        store.flush();
        store.close();
        corrupt("MIDDLE-MARKER");

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> open().restore());
        assertTrue(e.getCause().getCause().getMessage().contains("followed by intact ones"), e::toString);
    }

    @Test
    void aFailureStopsTheStoreForGood() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.queue().close();

        assertThrows(IOException.class, () -> store.persistLogEntries(entries(1, 2, 1)));
        assertEquals(1, failures.get());
        assertThrows(IOException.class, store::flush);
        assertThrows(IOException.class, () -> store.truncateLogEntriesFrom(1));
        assertThrows(IOException.class,
                () -> store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(2).build()));
        assertEquals(1, failures.get());
    }

    @Test
    void recordTooLargeForACycleFailsTheStore() {
        ChronicleRaftStore store = openRestored();

        assertThrows(IOException.class,
                () -> store.persistLogEntries(List.of(entry(1, 1, "x".repeat((int) (2 * CYCLE_BYTES))))));
        assertEquals(1, failures.get());
    }

    @Test
    void storeRestoredOnOneThreadIsWrittenFromAnother() throws Exception {
        ChronicleRaftStore store = openRestored();
        ExecutorService raftThread = Executors.newSingleThreadExecutor();
        try {
            raftThread.submit(() -> {
                persistIdentity(store);
                store.persistLogEntries(entries(1, 3, 1));
                store.flush();
                return null;
            }).get(30, TimeUnit.SECONDS);
        } finally {
            raftThread.shutdown();
        }

        assertEntries(entries(1, 3, 1), reopen(store).restore().orElseThrow().getLogEntries());
        assertEquals(0, failures.get());
    }

    @Test
    void microRaftNodeRestartsFromTheStore() throws IOException {
        RaftConfig config = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(200)
                .setLeaderHeartbeatPeriodSecs(1).setLeaderHeartbeatTimeoutSecs(2).setCommitCountToTakeSnapshot(100)
                .build();
        ChronicleRaftStore store = ChronicleRaftStore.open(dir, 16 * 1024, countingFailures());
        opened.add(store);
        assertTrue(store.restore().isEmpty());
        KeyList keys = new KeyList();
        RaftNode node = RaftNode.newBuilder().setGroupId("metcd").setLocalEndpoint(ME)
                .setInitialGroupMembers(List.of(ME)).setConfig(config).setTransport(new NoPeers())
                .setStateMachine(keys).setStore(store).build();
        node.start().join();
        for (int i = 1; i <= 450; i++) {
            node.replicate(batch("key/" + i)).join();
        }
        node.terminate().join();
        assertEquals(400, store.lastSnapshotIndex());
        IOException closed = assertThrows(IOException.class, store::flush, "MicroRaft closes the store as it terminates");
        assertTrue(closed.getMessage().contains("is closed"), closed::toString);

        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();
        assertEquals(400, state.getSnapshotEntry().getIndex());
        assertEquals(LongStream.rangeClosed(401, 451).boxed().toList(),
                state.getLogEntries().stream().map(LogEntry::getIndex).toList());
        KeyList restoredKeys = new KeyList();
        RaftNode restarted = RaftNode.newBuilder().setGroupId("metcd").setRestoredState(state).setConfig(config)
                .setTransport(new NoPeers()).setStateMachine(restoredKeys).setStore(reopened).build();
        restarted.start().join();
        try {
            // The restarted node applies its log once it has been elected again and committed a new-term entry.
            await().atMost(Duration.ofSeconds(20)).until(() -> restoredKeys.keys.size() == 450);
            restarted.replicate(batch("key/451")).join();
            assertEquals(keys.keys, restoredKeys.keys.subList(0, 450));
            assertEquals("key/451", restoredKeys.keys.get(450));
        } finally {
            restarted.terminate().join();
        }
        assertEquals(0, failures.get());
    }

    private static Operation.Batch batch(String key) {
        return new Operation.Batch(List.of(new Operation.Proposal(1, 0, key, new byte[200])));
    }

    /** The keys written, in order: enough state to see that a restart loses and repeats nothing. */
    private static final class KeyList implements StateMachine {
        final List<String> keys = new CopyOnWriteArrayList<>();

        @Override
        public Object runOperation(long commitIndex, Object operation) {
            if (operation instanceof Operation.Batch batch) {
                batch.proposals().forEach(p -> keys.add(p.key()));
            }
            return null;
        }

        @Override
        public void takeSnapshot(long commitIndex, Consumer<Object> chunks) {
            for (int from = 0; from < keys.size(); from += 150) {
                String part = String.join("\n", keys.subList(from, Math.min(keys.size(), from + 150)));
                chunks.accept(new Operation.SnapshotPart(part.getBytes(StandardCharsets.UTF_8)));
            }
        }

        @Override
        public void installSnapshot(long commitIndex, List<Object> chunks) {
            keys.clear();
            for (Object chunk : chunks) {
                keys.addAll(List.of(new String(((Operation.SnapshotPart) chunk).bytes(), StandardCharsets.UTF_8)
                        .split("\n")));
            }
        }

        @Override
        public Object getNewTermOperation() {
            return new Operation.NewTerm(1);
        }
    }

    /** A single-node group has nobody to talk to. */
    private static final class NoPeers implements Transport {
        @Override
        public void send(RaftEndpoint target, RaftMessage message) {
        }

        @Override
        public boolean isReachable(RaftEndpoint endpoint) {
            return true;
        }
    }

    // ----------------------------------------------------------------------------------------- helpers

    private ChronicleRaftStore open() {
        ChronicleRaftStore store = ChronicleRaftStore.open(dir, CYCLE_BYTES, countingFailures());
        opened.add(store);
        return store;
    }

    /** Counts in {@link #failures} the times the store stopped the node. */
    private FailStop countingFailures() {
        return new FailStop(dir, failure -> failures.incrementAndGet());
    }

    private ChronicleRaftStore openRestored() {
        ChronicleRaftStore store = open();
        assertTrue(store.restore().isEmpty());
        return store;
    }

    private ChronicleRaftStore reopen(ChronicleRaftStore store) {
        store.close();
        return open();
    }

    private static void persistIdentity(ChronicleRaftStore store) throws IOException {
        store.persistAndFlushLocalEndpoint(
                MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(ME).setVoting(true).build());
        store.persistAndFlushInitialGroupMembers(members(0));
        store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(1).setVotedFor(ME).build());
    }

    private static RaftGroupMembersView members(long logIndex) {
        List<RaftEndpoint> all = List.of(ME, OTHER);
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(logIndex).setMembers(all)
                .setVotingMembers(all).build();
    }

    /** An entry of about 300 bytes, the size of a small client write with its key. */
    private static LogEntry entry(long index, int term) {
        return entry(index, term, "value-" + index + "-".repeat(250));
    }

    private static LogEntry entry(long index, int term, String value) {
        Operation.Proposal put = new Operation.Proposal(1, index, "key/" + index,
                value.getBytes(StandardCharsets.UTF_8));
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(term)
                .setOperation(new Operation.Batch(List.of(put))).build();
    }

    private static List<LogEntry> entries(long from, long to, int term) {
        return LongStream.rangeClosed(from, to).mapToObj(i -> entry(i, term)).toList();
    }

    private static byte[] chunkBytes(long snapshotIndex, int chunkIndex) {
        byte[] bytes = new byte[4096];
        Arrays.fill(bytes, (byte) (snapshotIndex * 31 + chunkIndex));
        return bytes;
    }

    private static SnapshotChunk chunk(long snapshotIndex, int term, int chunkIndex, int chunkCount) {
        return MODEL.createSnapshotChunkBuilder().setIndex(snapshotIndex).setTerm(term)
                .setOperation(new Operation.SnapshotPart(chunkBytes(snapshotIndex, chunkIndex)))
                .setSnapshotChunkIndex(chunkIndex).setSnapshotChunkCount(chunkCount)
                .setGroupMembersView(members(0)).build();
    }

    @SuppressWarnings("unchecked")
    private static Operation.SnapshotPart firstPart(SnapshotEntry snapshot) {
        return (Operation.SnapshotPart) ((List<SnapshotChunk>) snapshot.getOperation()).get(0).getOperation();
    }

    /** Entries carry byte arrays, which records compare by identity: compare their encodings instead. */
    private static void assertEntries(List<LogEntry> expected, List<LogEntry> actual) {
        assertEquals(expected.stream().map(LogEntry::getIndex).toList(),
                actual.stream().map(LogEntry::getIndex).toList());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(encode(expected.get(i)), encode(actual.get(i)), "entry " + expected.get(i).getIndex());
        }
    }

    private static byte[] encode(LogEntry entry) {
        Writer out = new Writer(512);
        Codec.writeLogEntry(out, entry);
        return out.toByteArray();
    }

    private static long countRecords(ChronicleRaftStore store) {
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

    private static long lastRecordHeaderPosition(ChronicleRaftStore store) {
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

    private Path cycleFile() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".cq4")).findFirst().orElseThrow();
        }
    }

    private int cycleFiles() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return (int) files.filter(f -> f.toString().endsWith(".cq4")).count();
        }
    }

    /** Flips the bytes of {@code marker} where they lie in a cycle file, as a write torn by a crash would leave it. */
    private void corrupt(String marker) throws IOException {
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

    private static int indexOf(byte[] haystack, byte[] needle, int from) {
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
