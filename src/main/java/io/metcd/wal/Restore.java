package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Reader;
import io.metcd.model.Operation;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.model.persistence.RaftEndpointPersistentState;
import io.microraft.model.persistence.RaftTermPersistentState;
import io.microraft.persistence.RestoredRaftState;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads the whole log back into what MicroRaft needs to restart the node, in two passes. The first ({@link #scan})
 * reads every record but the entries, which it only locates. The second ({@link #build}) decodes the entries still
 * in force after the newest durable snapshot (in {@link SnapshotFiles}, whose chunks stay on disk until read).
 */
final class Restore {
    private static final Logger LOG = LoggerFactory.getLogger(Restore.class);
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();

    private final Path dir;
    private final CycleLog log;
    private final SnapshotFiles snapshots;

    Restore(Path dir, CycleLog log, SnapshotFiles snapshots) {
        this.dir = dir;
        this.log = log;
        this.snapshots = snapshots;
    }

    /** What the first pass over the log finds: everything but the entries, which it only locates. */
    static final class Scan {
        long records;
        /** The last endpoint, initial members and term records, whole, or {@code null}. */
        byte[] endpoint;
        byte[] members;
        byte[] term;
        long compactedUpTo;
        /** Entry records still in force, in log order, trimmed by later truncation markers. */
        final Deque<EntryRef> entries = new ArrayDeque<>();
        final List<Long> damaged = new ArrayList<>();
        final Set<Long> discarded = new HashSet<>();
        /** Damaged records after the last intact one: torn by a crash mid-write, and so never acknowledged. */
        final List<Long> tornTail = new ArrayList<>();

        /** The latest endpoint, initial members and term records found, for compaction to copy forward. */
        List<byte[]> identity() {
            List<byte[]> found = new ArrayList<>(3);
            for (byte[] record : new byte[][] {endpoint, members, term}) {
                if (record != null) {
                    found.add(record);
                }
            }
            return found;
        }
    }

    /** A record of {@code count} entries from {@code first}, at Chronicle index {@code at}. */
    private record EntryRef(long at, long first, int count) {
        long last() {
            return first + count - 1;
        }
    }

    /** The first pass: locates what the log holds and checks that nothing acknowledged can have been lost. */
    Scan scan() throws IOException {
        Scan scan = new Scan();
        long lastIntact = Long.MIN_VALUE;
        int lastCycleRead = Integer.MIN_VALUE;
        long lastPositionRead = -1;
        byte[] buf = new byte[64 * 1024];
        try (ExcerptTailer tailer = log.queue().createTailer()) {
            while (true) {
                // Chronicle's own metadata documents are read too, only to learn how far the tailer got.
                try (DocumentContext dc = tailer.readingDocument(true)) {
                    if (!dc.isPresent()) {
                        break;
                    }
                    Bytes<?> bytes = dc.wire().bytes();
                    lastCycleRead = tailer.cycle();
                    lastPositionRead = bytes.readPosition() - 4;
                    if (dc.isMetaData()) {
                        continue;
                    }
                    long at = dc.index();
                    int length = (int) bytes.readRemaining();
                    CycleLog.CycleStats stats = log.statsOf(at);
                    stats.bytes += length;
                    scan.records++;
                    if (length > buf.length) {
                        buf = new byte[Math.max(length, 2 * buf.length)];
                    }
                    bytes.read(buf, 0, length);
                    if (!Records.intact(buf, length)) {
                        scan.damaged.add(at);
                        continue;
                    }
                    lastIntact = at;
                    scanRecord(scan, stats, at, buf, length);
                }
            }
        }
        // A document a crashed writer left open is invisible, and Chronicle writes over it when it next appends.
        // But if Chronicle's write position is past where reading stopped, it would append behind a header that
        // reading never gets past: every later write would be lost on the next restart.
        int lastCycle = log.queue().lastCycle();
        boolean hidden = lastCycleRead >= 0 && log.writePosition(lastCycleRead) > lastPositionRead
                || lastCycleRead < lastCycle && log.writePosition(lastCycle) > 0;
        if (hidden) {
            throw new IOException("the Raft log in " + dir + " cannot be read past cycle " + lastCycleRead
                    + ", position " + lastPositionRead + ", though Chronicle wrote further (up to cycle "
                    + lastCycle + "): records there would be lost");
        }
        for (long at : scan.damaged) {
            if (scan.discarded.contains(at)) {
                continue;
            }
            if (at < lastIntact) {
                throw new IOException("the Raft log in " + dir + " has a damaged record at Chronicle index "
                        + Long.toHexString(at) + " followed by intact ones: it may have held acknowledged writes");
            }
            scan.tornTail.add(at);
        }
        return scan;
    }

    private void scanRecord(Scan scan, CycleLog.CycleStats stats, long at, byte[] buf, int length)
            throws IOException {
        Reader in = Records.payload(buf, length);
        switch (Records.tag(buf)) {
            case Records.ENDPOINT -> scan.endpoint = Arrays.copyOfRange(buf, 0, length);
            case Records.INITIAL_MEMBERS -> scan.members = Arrays.copyOfRange(buf, 0, length);
            case Records.TERM -> scan.term = Arrays.copyOfRange(buf, 0, length);
            case Records.ENTRIES -> {
                EntryRef ref = new EntryRef(at, in.i64(), in.i32());
                if (ref.count > 0) {
                    scan.entries.addLast(ref);
                    stats.maxEntryIndex = Math.max(stats.maxEntryIndex, ref.last());
                }
            }
            case Records.TRUNCATE_FROM -> {
                long from = in.i64();
                while (!scan.entries.isEmpty() && scan.entries.peekLast().first >= from) {
                    scan.entries.removeLast();
                }
                EntryRef last = scan.entries.peekLast();
                if (last != null && last.last() >= from) {
                    scan.entries.removeLast();
                    scan.entries.addLast(new EntryRef(last.at, last.first, (int) (from - last.first)));
                }
            }
            case Records.COMPACTED -> {
                scan.compactedUpTo = Math.max(scan.compactedUpTo, in.i64());
                while (!scan.entries.isEmpty() && scan.entries.peekFirst().last() <= scan.compactedUpTo) {
                    scan.entries.removeFirst();
                }
            }
            case Records.DISCARD -> {
                int n = in.i32();
                for (int i = 0; i < n; i++) {
                    scan.discarded.add(in.i64());
                }
            }
            default -> throw new IOException("the Raft log in " + dir + " has a record with unknown tag "
                    + Records.tag(buf) + " at Chronicle index " + Long.toHexString(at));
        }
    }

    /**
     * The second pass: the state is the last endpoint, initial members and term written; the newest durable snapshot;
     * and the log entries after it, with truncated entries left out.
     *
     * @return the state, or empty when this node never persisted its endpoint and initial members (a new node)
     */
    Optional<RestoredRaftState> build(Scan scan) throws IOException {
        Optional<SnapshotFiles.Descriptor> snapshot = snapshots.newest();
        long snapshotIndex = snapshot.map(SnapshotFiles.Descriptor::index).orElse(0L);
        if (scan.compactedUpTo > snapshotIndex) {
            throw new IOException("the Raft log in " + dir + " was compacted up to index " + scan.compactedUpTo
                    + " but its newest durable snapshot is at " + snapshotIndex);
        }
        if (scan.endpoint == null || scan.members == null) {
            if (scan.records > 0) {
                LOG.warn("Raft log in {} has {} record(s) but no local endpoint and initial members: starting as a"
                        + " new node", dir, scan.records);
            }
            return Optional.empty();
        }
        RaftEndpointPersistentState endpoint = Codec.readEndpointState(Records.payload(scan.endpoint,
                scan.endpoint.length));
        RaftGroupMembersView members = Codec.readMembersView(Records.payload(scan.members, scan.members.length));
        RaftTermPersistentState term = scan.term != null
                ? Codec.readTermState(Records.payload(scan.term, scan.term.length))
                : MODEL.createRaftTermPersistentStateBuilder().setTerm(0).setVotedFor(null).build();

        Map<Long, EntryRef> entryRecords = new HashMap<>();
        for (EntryRef ref : scan.entries) {
            if (ref.last() > snapshotIndex) {
                entryRecords.put(ref.at, ref);
            }
        }
        List<LogEntry> entries = new ArrayList<>();
        readEntries(entryRecords, entries, snapshotIndex);

        long expected = snapshotIndex + 1;
        for (LogEntry entry : entries) {
            if (entry.getIndex() != expected) {
                throw new IOException("the Raft log in " + dir + " has entry " + entry.getIndex() + " where "
                        + expected + " should be (snapshot at " + snapshotIndex + "): entries were lost");
            }
            expected++;
        }
        SnapshotEntry snapshotEntry = snapshot.map(this::entry).orElse(null);
        LOG.info("Raft log in {}: restored {} record(s) in {} cycle file(s): term {}, snapshot at {}, {} entries "
                + "after it", dir, scan.records, log.cycles().size(), term.getTerm(), snapshotIndex, entries.size());
        return Optional.of(new RestoredRaftState(endpoint, members, term, snapshotEntry, entries));
    }

    /** MicroRaft's entry for a durable snapshot: its chunks are references to the file, read when they are needed. */
    private SnapshotEntry entry(SnapshotFiles.Descriptor d) {
        List<SnapshotChunk> chunks = new ArrayList<>(d.chunkCount());
        for (int k = 0; k < d.chunkCount(); k++) {
            chunks.add(MODEL.createSnapshotChunkBuilder().setIndex(d.index()).setTerm(d.term())
                    .setSnapshotChunkIndex(k).setSnapshotChunkCount(d.chunkCount()).setGroupMembersView(d.members())
                    .setOperation(new Operation.SnapshotPart(snapshots, d.index(), k)).build());
        }
        return MODEL.createSnapshotEntryBuilder().setIndex(d.index()).setTerm(d.term()).setSnapshotChunks(chunks)
                .setGroupMembersView(d.members()).build();
    }

    /** Decodes the entry records found by the first pass, reading on from the earliest. */
    private void readEntries(Map<Long, EntryRef> entryRecords, List<LogEntry> entries, long snapshotIndex)
            throws IOException {
        int wanted = entryRecords.size();
        if (wanted == 0) {
            return;
        }
        long start = Long.MAX_VALUE;
        for (long at : entryRecords.keySet()) {
            start = Math.min(start, at);
        }
        byte[] buf = new byte[64 * 1024];
        try (ExcerptTailer tailer = log.queue().createTailer()) {
            if (!tailer.moveToIndex(start)) {
                throw new IOException("the Raft log in " + dir + " lost its record at Chronicle index "
                        + Long.toHexString(start));
            }
            while (wanted > 0) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (!dc.isPresent()) {
                        throw new IOException("the Raft log in " + dir + " ended with " + wanted
                                + " record(s) still to read");
                    }
                    long at = dc.index();
                    EntryRef ref = entryRecords.get(at);
                    if (ref == null) {
                        continue;
                    }
                    wanted--;
                    Bytes<?> bytes = dc.wire().bytes();
                    int length = (int) bytes.readRemaining();
                    if (length > buf.length) {
                        buf = new byte[Math.max(length, 2 * buf.length)];
                    }
                    bytes.read(buf, 0, length);
                    if (!Records.intact(buf, length)) {
                        throw new IOException("the Raft log in " + dir + " changed under restore at Chronicle index "
                                + Long.toHexString(at));
                    }
                    Reader in = Records.payload(buf, length);
                    in.i64();
                    in.i32();
                    for (int i = 0; i < ref.count; i++) {
                        LogEntry entry = Codec.readLogEntry(in);
                        if (entry.getIndex() > snapshotIndex) {
                            entries.add(entry);
                        }
                    }
                }
            }
        }
    }
}
