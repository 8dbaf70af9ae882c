package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Reader;
import io.metcd.codec.Writer;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.microraft.RaftNode;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.model.persistence.RaftEndpointPersistentState;
import io.microraft.model.persistence.RaftTermPersistentState;
import io.microraft.persistence.RaftStore;
import io.microraft.persistence.RestoredRaftState;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueStore;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
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
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * MicroRaft's write-ahead log on a Chronicle Queue: every {@link RaftStore} call appends one self-checking record,
 * and {@link #restore()} replays them into a {@link RestoredRaftState}.
 * <p>
 * <b>Lifecycle.</b> {@link #open} the store, call {@link #restore()} exactly once (before the store is handed to
 * MicroRaft, and whether or not it finds a state), give the store to the {@link RaftNode} builder, and
 * {@link #close()} it after the node has terminated.
 * <p>
 * <b>Records.</b> One Chronicle document per call, laid out as {@code [crc32c:4][tag:1][payload]} with the CRC over
 * tag and payload. The payloads use {@link Codec}; the ones restore needs to find without decoding carry their Raft
 * indices up front. The queue is append-only, so {@link #truncateLogEntriesFrom} and {@link #deleteSnapshotChunks}
 * are markers that restore applies to what was written before them; {@link #truncateLogEntriesUntil} deletes whole
 * roll-cycle files that nothing needed any more lives in.
 * <p>
 * <b>Durability.</b> {@link #flush()} and the {@code persistAndFlush...} methods msync the queue once; the other
 * methods only append, as {@link RaftStore} allows. An msync that fails fails them, and the store (below): Chronicle
 * only reports it ({@link ChronicleErrors}) and would count those pages as synced.
 * <p>
 * <b>Fail-stop.</b> MicroRaft logs a store's {@link IOException} and carries on, which would let a node acknowledge
 * entries it never stored. So the first failure of any method marks the store failed, has the node's {@link FailStop}
 * stop the node (which logs the cause) and throws; every later call throws at once.
 * <p>
 * <b>Threads.</b> Not thread-safe: the owner calls {@link #restore()} and {@link #close()}, MicroRaft's Raft
 * thread calls the rest, and MicroRaft's executor orders the two.
 */
public final class ChronicleRaftStore implements RaftStore, Operation.ChunkSource, AutoCloseable {
    /** How big a roll-cycle file grows before writes move on to a new one, unless {@link #open} is told otherwise. */
    public static final long DEFAULT_CYCLE_BYTES = 64L << 20;

    private static final Logger LOG = LoggerFactory.getLogger(ChronicleRaftStore.class);
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();

    // Record tags: the byte after the CRC. Never renumber; the WAL outlives the code that wrote it.
    private static final byte ENDPOINT = 1;
    private static final byte INITIAL_MEMBERS = 2;
    private static final byte TERM = 3;
    private static final byte ENTRIES = 4;
    private static final byte TRUNCATE_FROM = 5;
    private static final byte SNAPSHOT_CHUNK = 6;
    private static final byte DELETE_SNAPSHOT_CHUNKS = 7;
    private static final byte COMPACTED = 8;
    private static final byte DISCARD = 9;
    private static final byte CHUNK_DATA = 10;
    private static final byte SNAPSHOT_CHUNK_REF = 11;
    private static final byte[] NO_BODY = new byte[0];

    private static final int HEADER_BYTES = 5;
    /** The part of a {@link #CHUNK_DATA} record that restore reads: the header and the snapshot index. */
    private static final int CHUNK_DATA_HEAD = HEADER_BYTES + Long.BYTES;
    private static final long MIN_BLOCK_SIZE = 1L << 20;

    private final Path dir;
    private final FailStop failStop;
    private final long cycleBytes;
    private final long maxRecordBytes;
    private final LogicalClock clock;
    private final SingleChronicleQueue queue;
    private final RollCycle rollCycle;
    private final ExcerptAppender appender;
    private final Writer out = new Writer(64 * 1024);
    /** The appender's checksum, on the Raft thread only. */
    private final CRC32C crc = new CRC32C();
    /** What compaction needs to know about every cycle file still on disk, oldest first. */
    private final TreeMap<Integer, CycleStats> cycles = new TreeMap<>();
    private final Snapshots snapshots = new Snapshots();
    /**
     * The first cycle holding chunks of each snapshot a store is still loading, by snapshot index: compaction keeps
     * it and what follows, though a newer snapshot has replaced that one meanwhile.
     */
    private final Map<Long, Integer> heldChunkCycles = new ConcurrentHashMap<>();

    // The last of each, as written, so that compaction can copy them forward before it deletes older copies.
    private byte[] endpointRecord;
    private byte[] membersRecord;
    private byte[] termRecord;

    private boolean restoreCalled;
    private boolean restored;
    private volatile boolean failed;
    private volatile boolean closed;
    private volatile long lastSnapshotIndex;
    private volatile LongConsumer syncTimes = nanos -> { };

    private ChronicleRaftStore(Path dir, long cycleBytes, FailStop failStop) {
        this.dir = dir;
        this.failStop = failStop;
        this.cycleBytes = cycleBytes;
        // A cycle file must stay inside Chronicle's first mapped block, so that appender.sync() (which syncs only the
        // block being written) covers every record of the cycle; and a document may not outgrow the block overlap.
        long blockSize = Math.max(MIN_BLOCK_SIZE, 4 * cycleBytes);
        this.maxRecordBytes = blockSize / 4;
        this.clock = new LogicalClock(RollCycles.FAST_DAILY.lengthInMillis());
        this.queue = SingleChronicleQueueBuilder.binary(dir)
                .rollCycle(RollCycles.FAST_DAILY)
                .timeProvider(clock)
                .blockSize(blockSize)
                .syncMode(SyncMode.SYNC)
                .build();
        this.rollCycle = queue.rollCycle();
        clock.cycle = Math.max(queue.lastCycle(), 0);
        this.appender = queue.createAppender();
        // The owner restores and the Raft thread appends; MicroRaft's executor already orders them.
        appender.singleThreadedCheckDisabled(true);
    }

    /**
     * Opens (creating it if needed) the Raft log in {@code dir}, rolling to a new cycle file every
     * {@link #DEFAULT_CYCLE_BYTES}.
     *
     * @param failStop stops the node on the first failure of any {@link RaftStore} method
     * @throws UncheckedIOException if the directory or the queue cannot be opened
     */
    public static ChronicleRaftStore open(Path dir, FailStop failStop) {
        return open(dir, DEFAULT_CYCLE_BYTES, failStop);
    }

    /**
     * Opens (creating it if needed) the Raft log in {@code dir}.
     *
     * @param cycleBytes roughly how big a cycle file grows before writes move on to a new one, the unit in which
     *                   compaction frees disk space; a single record (a snapshot chunk, or one log entry) may not
     *                   be larger
     * @param failStop   stops the node on the first failure of any {@link RaftStore} method
     * @throws UncheckedIOException if the directory or the queue cannot be opened
     */
    public static ChronicleRaftStore open(Path dir, long cycleBytes, FailStop failStop) {
        if (cycleBytes < 4096) {
            throw new IllegalArgumentException("cycle size must be at least 4 KiB, not " + cycleBytes);
        }
        try {
            Files.createDirectories(dir);
            return new ChronicleRaftStore(dir, cycleBytes, failStop);
        } catch (IOException | RuntimeException e) {
            throw new UncheckedIOException(new IOException("cannot open the Raft log in " + dir, e));
        }
    }

    /**
     * Reads the whole log and rebuilds what MicroRaft needs to restart this node, for
     * {@code RaftNodeBuilder.setRestoredState}. Must be called once, before MicroRaft uses the store.
     * <p>
     * The state is the last endpoint, initial members and term written; the newest snapshot whose chunks are all
     * present and were not deleted; and the log entries after it, with truncated entries left out. A record torn
     * by a crash at the end of the log is dropped (and marked so, durably, before this method returns).
     *
     * @return the state, or empty when this node never persisted its endpoint and initial members (a new node)
     * @throws UncheckedIOException when the log cannot be read or is damaged in a way that could lose
     *                              acknowledged writes: the node must not start from it
     */
    public Optional<RestoredRaftState> restore() {
        if (restoreCalled) {
            throw new IllegalStateException("restore() was already called");
        }
        restoreCalled = true;
        if (closed) {
            throw new IllegalStateException("the Raft log in " + dir + " is closed");
        }
        try {
            Scan scan = scan();
            if (!scan.tornTail.isEmpty()) {
                LOG.warn("Raft log in {}: dropping {} damaged record(s) at its end, left by a crash mid-write",
                        dir, scan.tornTail.size());
                beginRecord(DISCARD).i32(scan.tornTail.size());
                for (long at : scan.tornTail) {
                    out.i64(at);
                }
                append();
                sync();
            }
            rollIfFull();
            Optional<RestoredRaftState> state = build(scan);
            restored = true;
            return state;
        } catch (IOException | RuntimeException e) {
            throw new UncheckedIOException(new IOException("cannot restore the Raft log in " + dir, e));
        }
    }

    /** The index of the newest complete snapshot in the log, 0 when there is none. */
    public long lastSnapshotIndex() {
        return lastSnapshotIndex;
    }

    @Override
    public void persistAndFlushLocalEndpoint(RaftEndpointPersistentState state) throws IOException {
        checkUsable();
        try {
            Codec.writeEndpointState(beginRecord(ENDPOINT), state);
            append();
            endpointRecord = out.toByteArray();
            sync();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("persistAndFlushLocalEndpoint", e);
        }
    }

    @Override
    public void persistAndFlushInitialGroupMembers(RaftGroupMembersView initialGroupMembers) throws IOException {
        checkUsable();
        try {
            Codec.writeMembersView(beginRecord(INITIAL_MEMBERS), initialGroupMembers);
            append();
            membersRecord = out.toByteArray();
            sync();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("persistAndFlushInitialGroupMembers", e);
        }
    }

    @Override
    public void persistAndFlushTerm(RaftTermPersistentState termPersistentState) throws IOException {
        checkUsable();
        try {
            Codec.writeTermState(beginRecord(TERM), termPersistentState);
            append();
            termRecord = out.toByteArray();
            sync();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("persistAndFlushTerm", e);
        }
    }

    /**
     * Appends the entries as one record ({@code [first index:8][count:4][entries]}); only a batch too big for one
     * record is split. Durable after the next {@link #flush()}.
     */
    @Override
    public void persistLogEntries(List<LogEntry> logEntries) throws IOException {
        checkUsable();
        try {
            int n = logEntries.size();
            int i = 0;
            while (i < n) {
                beginRecord(ENTRIES).i64(logEntries.get(i).getIndex());
                int countAt = out.length();
                out.i32(0);
                int first = i;
                do {
                    Codec.writeLogEntry(out, logEntries.get(i++));
                } while (i < n && out.length() < maxRecordBytes / 2);
                out.putI32(countAt, i - first);
                CycleStats stats = append();
                stats.maxEntryIndex = Math.max(stats.maxEntryIndex, logEntries.get(i - 1).getIndex());
            }
        } catch (IOException | RuntimeException | Error e) {
            throw fail("persistLogEntries", e);
        }
    }

    /**
     * Appends a chunk of the snapshot at {@code snapshotIndex} that is being taken, before MicroRaft knows how many
     * chunks there will be and hands them to {@link #persistSnapshotChunk}: so that the snapshot never lies in the
     * heap whole. Durable after the next {@link #flush()}.
     *
     * @return the chunk, as it lies in this log
     */
    public Operation.SnapshotPart stageSnapshotChunk(long snapshotIndex, byte[] chunk) throws IOException {
        checkUsable();
        try {
            return new Operation.SnapshotPart(this, appendChunkData(snapshotIndex, chunk));
        } catch (IOException | RuntimeException | Error e) {
            throw fail("stageSnapshotChunk", e);
        }
    }

    /**
     * Appends the chunk's bytes, unless {@link #stageSnapshotChunk} already did, as
     * {@code [snapshot index:8][bytes]}, then a reference to them with the rest of the chunk, as
     * {@code [snapshot index:8][chunk index:4][chunk count:4][where the bytes are:8][term:4][members]}; from then on
     * the chunk is read back from this log when it is needed. Durable after the next {@link #flush()}.
     */
    @Override
    public void persistSnapshotChunk(SnapshotChunk chunk) throws IOException {
        checkUsable();
        try {
            Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();
            if (!part.liesIn(this)) {
                part.movedTo(this, appendChunkData(chunk.getIndex(), part.bytes()));
            }
            beginRecord(SNAPSHOT_CHUNK_REF).i64(chunk.getIndex()).i32(chunk.getSnapshotChunkIndex())
                    .i32(chunk.getSnapshotChunkCount()).i64(part.location()).i32(chunk.getTerm());
            Codec.writeMembersView(out, chunk.getGroupMembersView());
            CycleStats stats = append();
            stats.maxChunkSnapshotIndex = Math.max(stats.maxChunkSnapshotIndex, chunk.getIndex());
            snapshots.add(chunk, part.location());
            lastSnapshotIndex = snapshots.newestCompleteIndex();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("persistSnapshotChunk", e);
        }
    }

    private long appendChunkData(long snapshotIndex, byte[] chunk) throws IOException {
        beginRecord(CHUNK_DATA).i64(snapshotIndex);
        CycleStats stats = append(chunk);
        stats.maxChunkSnapshotIndex = Math.max(stats.maxChunkSnapshotIndex, snapshotIndex);
        return appender.lastIndexAppended();
    }

    /**
     * Reads a chunk's bytes back, on any thread: a leader sends them to a follower that needs the snapshot, a
     * store loads them.
     *
     * @throws UncheckedIOException if a newer snapshot made the log delete them, or they are damaged
     */
    @Override
    public byte[] readChunk(long location) {
        if (closed) {
            throw new UncheckedIOException(new IOException("the Raft log in " + dir + " is closed"));
        }
        try (ExcerptTailer tailer = queue.createTailer()) {
            if (tailer.moveToIndex(location)) {
                try (DocumentContext dc = tailer.readingDocument()) {
                    if (dc.isPresent() && dc.index() == location) {
                        Bytes<?> bytes = dc.wire().bytes();
                        byte[] record = new byte[(int) bytes.readRemaining()];
                        bytes.read(record);
                        return chunkBytes(record, location);
                    }
                }
            }
        }
        throw new UncheckedIOException(new IOException("the Raft log in " + dir + " no longer holds the snapshot "
                + "chunk at Chronicle index " + Long.toHexString(location) + ": a newer snapshot replaced it"));
    }

    private byte[] chunkBytes(byte[] record, long location) {
        if (!intact(record, record.length)) {
            throw new UncheckedIOException(new IOException("the Raft log in " + dir
                    + " has a damaged snapshot chunk at Chronicle index " + Long.toHexString(location)));
        }
        Reader in = new Reader(ByteBuffer.wrap(record, HEADER_BYTES, record.length - HEADER_BYTES));
        return switch (record[4]) {
            case CHUNK_DATA -> Arrays.copyOfRange(record, HEADER_BYTES + Long.BYTES, record.length);
            // Written by earlier versions: the whole chunk in one record.
            case SNAPSHOT_CHUNK -> {
                in.i64();
                in.i32();
                in.i32();
                yield ((Operation.SnapshotPart) Codec.readSnapshotChunk(in).getOperation()).bytes();
            }
            default -> throw new UncheckedIOException(new IOException("the Raft log in " + dir
                    + " has no snapshot chunk at Chronicle index " + Long.toHexString(location)));
        };
    }

    /** Appends a marker that hides, from restore, the entries from {@code logIndexInclusive} written before it. */
    @Override
    public void truncateLogEntriesFrom(long logIndexInclusive) throws IOException {
        checkUsable();
        try {
            beginRecord(TRUNCATE_FROM).i64(logIndexInclusive);
            append();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("truncateLogEntriesFrom", e);
        }
    }

    /**
     * Records that entries up to {@code logIndexInclusive} are no longer needed and deletes the oldest cycle files
     * that hold nothing else restore needs. A cycle file goes only when it is not the one being written, it is
     * older than the cycle holding the first chunk of the newest complete snapshot, all its log entries are at or
     * below both that snapshot and {@code logIndexInclusive}, and it holds no chunk of a newer snapshot; files go
     * oldest first and the first one that must stay stops the deletion, so that no truncation or deletion marker
     * outlives what it applies to. The current endpoint, initial members and term are appended again and synced
     * first, since the deleted files may hold their only copies.
     */
    @Override
    public void truncateLogEntriesUntil(long logIndexInclusive) throws IOException {
        checkUsable();
        try {
            beginRecord(COMPACTED).i64(logIndexInclusive);
            append();
            compact(logIndexInclusive);
        } catch (IOException | RuntimeException | Error e) {
            throw fail("truncateLogEntriesUntil", e);
        }
    }

    /** Appends a marker that hides, from restore, the chunks of the snapshot at {@code logIndex} written before it. */
    @Override
    public void deleteSnapshotChunks(long logIndex, int snapshotChunkCount) throws IOException {
        checkUsable();
        try {
            beginRecord(DELETE_SNAPSHOT_CHUNKS).i64(logIndex).i32(snapshotChunkCount);
            append();
            snapshots.delete(logIndex);
            lastSnapshotIndex = snapshots.newestCompleteIndex();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("deleteSnapshotChunks", e);
        }
    }

    /**
     * Keeps the chunks of the complete snapshot at {@code snapshotIndex} in the log, even once a newer snapshot
     * replaces it, until {@link #releaseChunks}: a store reads them after MicroRaft has moved on. Called on the Raft
     * thread.
     */
    public void holdChunks(long snapshotIndex) {
        Snapshots.ChunkSet set = snapshots.byIndex.get(snapshotIndex);
        if (set != null) {
            heldChunkCycles.put(snapshotIndex, set.firstCycle(rollCycle));
        }
    }

    /** Lets compaction delete the chunks {@link #holdChunks} kept; on any thread. */
    public void releaseChunks(long snapshotIndex) {
        heldChunkCycles.remove(snapshotIndex);
    }

    /** Msyncs everything appended so far: one msync however many records there are. */
    @Override
    public void flush() throws IOException {
        checkUsable();
        try {
            sync();
        } catch (IOException | RuntimeException | Error e) {
            throw fail("flush", e);
        }
    }

    /**
     * Closes the queue; later calls throw {@link IOException} without running the failure callback. Call it once
     * the Raft node has terminated: Chronicle does not expect its queue closed under a write in progress.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            appender.close();
        } finally {
            queue.close();
        }
    }

    /** Tells {@code observer} how long each msync of the log takes, in nanoseconds (for the metrics). */
    public void reportSyncTimes(LongConsumer observer) {
        this.syncTimes = observer;
    }

    /** The queue underneath, for tests that break it. */
    SingleChronicleQueue queue() {
        return queue;
    }

    // ------------------------------------------------------------------------------------------ writing

    private void checkUsable() throws IOException {
        if (!restored) {
            throw new IllegalStateException("restore() must be called before the store is used");
        }
        if (failed) {
            throw new IOException("the Raft log in " + dir + " failed earlier; this node must stop");
        }
        if (closed) {
            throw new IOException("the Raft log in " + dir + " is closed");
        }
    }

    private IOException fail(String operation, Throwable cause) {
        // After close() a failure is the queue shutting down under a late call, not a disk that lost a write.
        if (!failed && !closed) {
            failed = true;
            failStop.stop("the Raft log in " + dir + " failed in " + operation, cause);
        }
        return new IOException(operation + " failed on the Raft log in " + dir, cause);
    }

    private Writer beginRecord(byte tag) {
        return out.reset().i32(0).u8(tag);
    }

    /** Seals the record in {@link #out} with its CRC and appends it; returns the stats of its cycle. */
    private CycleStats append() throws IOException {
        return append(NO_BODY);
    }

    /** Appends the record in {@link #out} followed by {@code body}, one CRC over both, without copying the body. */
    private CycleStats append(byte[] body) throws IOException {
        int length = out.length();
        if ((long) length + body.length > maxRecordBytes) {
            throw new IOException("a record of " + (length + body.length) + " bytes is larger than the "
                    + maxRecordBytes + " bytes a cycle of this log can take");
        }
        rollIfFull();
        crc.reset();
        crc.update(out.array(), 4, length - 4);
        crc.update(body);
        out.putI32(0, (int) crc.getValue());
        return write(out.array(), length, body);
    }

    private CycleStats write(byte[] record, int length, byte[] body) {
        try (DocumentContext dc = appender.writingDocument()) {
            try {
                dc.wire().bytes().write(record, 0, length).write(body);
            } catch (RuntimeException | Error e) {
                dc.rollbackOnClose();
                throw e;
            }
        }
        CycleStats stats = cycles.computeIfAbsent(rollCycle.toCycle(appender.lastIndexAppended()),
                c -> new CycleStats());
        stats.bytes += length + body.length;
        return stats;
    }

    /** Msyncs up to the write position; fails if Chronicle reports the msync failed (it does not throw). */
    private void sync() throws IOException {
        long start = System.nanoTime();
        ChronicleErrors.failOnReport(appender::sync);
        syncTimes.accept(System.nanoTime() - start);
    }

    /**
     * Moves writes to a new cycle once the current one is big enough. Syncs first: appender.sync() reaches only
     * the cycle being written, so a cycle must be durable before it is left behind.
     */
    private void rollIfFull() throws IOException {
        CycleStats current = cycles.get(clock.cycle);
        if (current != null && current.bytes >= cycleBytes) {
            sync();
            clock.cycle++;
        }
    }

    private void compact(long upTo) throws IOException {
        Snapshots.ChunkSet snapshot = snapshots.newestComplete();
        if (snapshot == null) {
            return;
        }
        long entryLimit = Math.min(upTo, snapshot.index);
        int firstChunkCycle = snapshot.firstCycle(rollCycle);
        for (int held : heldChunkCycles.values()) {
            firstChunkCycle = Math.min(firstChunkCycle, held);
        }
        List<Integer> doomed = new ArrayList<>();
        for (Map.Entry<Integer, CycleStats> e : cycles.entrySet()) {
            int cycle = e.getKey();
            CycleStats stats = e.getValue();
            if (cycle >= clock.cycle || cycle >= firstChunkCycle || stats.maxEntryIndex > entryLimit
                    || stats.maxChunkSnapshotIndex > snapshot.index) {
                break;
            }
            doomed.add(cycle);
        }
        if (doomed.isEmpty()) {
            return;
        }
        for (byte[] record : new byte[][] {endpointRecord, membersRecord, termRecord}) {
            if (record != null) {
                rollIfFull();
                write(record, record.length, NO_BODY);
            }
        }
        sync();
        for (int cycle : doomed) {
            SingleChronicleQueueStore store = queue.storeForCycle(cycle, queue.epoch(), false, null);
            if (store != null) {
                File file = store.file();
                queue.closeStore(store);
                Files.deleteIfExists(file.toPath());
            }
            cycles.remove(cycle);
        }
        queue.refreshDirectoryListing();
        snapshots.forgetOlderThan(snapshot.index);
        LOG.debug("Raft log in {}: deleted {} cycle file(s) up to cycle {} after the snapshot at {}", dir,
                doomed.size(), doomed.get(doomed.size() - 1), snapshot.index);
    }

    // ----------------------------------------------------------------------------------------- restoring

    /** What the first pass over the log finds: everything but the bulk (entries and chunks), which it only locates. */
    private static final class Scan {
        long records;
        byte[] endpoint;
        byte[] members;
        byte[] term;
        long compactedUpTo;
        /** Entry records still in force, in log order, trimmed by later truncation markers. */
        final Deque<EntryRef> entries = new ArrayDeque<>();
        final List<Long> damaged = new ArrayList<>();
        final Set<Long> discarded = new HashSet<>();
        final List<Long> tornTail = new ArrayList<>();
    }

    /** A record of {@code count} entries from {@code first}, at Chronicle index {@code at}. */
    private record EntryRef(long at, long first, int count) {
        long last() {
            return first + count - 1;
        }
    }

    private Scan scan() throws IOException {
        Scan scan = new Scan();
        long lastIntact = Long.MIN_VALUE;
        int lastCycleRead = Integer.MIN_VALUE;
        long lastPositionRead = -1;
        byte[] buf = new byte[64 * 1024];
        try (ExcerptTailer tailer = queue.createTailer()) {
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
                    CycleStats stats = cycles.computeIfAbsent(rollCycle.toCycle(at), c -> new CycleStats());
                    stats.bytes += length;
                    scan.records++;
                    int head = Math.min(length, CHUNK_DATA_HEAD);
                    bytes.read(buf, 0, head);
                    if (head == CHUNK_DATA_HEAD && buf[4] == CHUNK_DATA) {
                        // The bulk of a snapshot is checked when it is read, not here: a restart does not read it.
                        long snapshotIndex = new Reader(ByteBuffer.wrap(buf, HEADER_BYTES, Long.BYTES)).i64();
                        stats.maxChunkSnapshotIndex = Math.max(stats.maxChunkSnapshotIndex, snapshotIndex);
                        continue;
                    }
                    if (length > buf.length) {
                        buf = Arrays.copyOf(buf, Math.max(length, 2 * buf.length));
                    }
                    bytes.read(buf, head, length - head);
                    if (!intact(buf, length)) {
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
        int lastCycle = queue.lastCycle();
        boolean hidden = lastCycleRead >= 0 && writePosition(lastCycleRead) > lastPositionRead
                || lastCycleRead < lastCycle && writePosition(lastCycle) > 0;
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

    private long writePosition(int cycle) {
        SingleChronicleQueueStore store = queue.storeForCycle(cycle, queue.epoch(), false, null);
        try {
            return store.writePosition();
        } finally {
            queue.closeStore(store);
        }
    }

    /**
     * Whether the record's checksum matches. Chunks are read back on any thread while the Raft thread appends: each
     * check has a CRC of its own, as the appender's {@link #crc} would take in the bytes of both.
     */
    private static boolean intact(byte[] buf, int length) {
        if (length < HEADER_BYTES) {
            return false;
        }
        CRC32C crc = new CRC32C();
        crc.update(buf, 4, length - 4);
        int stored = (buf[0] & 0xff) << 24 | (buf[1] & 0xff) << 16 | (buf[2] & 0xff) << 8 | buf[3] & 0xff;
        return (int) crc.getValue() == stored;
    }

    private void scanRecord(Scan scan, CycleStats stats, long at, byte[] buf, int length) throws IOException {
        Reader in = new Reader(ByteBuffer.wrap(buf, HEADER_BYTES, length - HEADER_BYTES));
        switch (buf[4]) {
            case ENDPOINT -> scan.endpoint = Arrays.copyOfRange(buf, 0, length);
            case INITIAL_MEMBERS -> scan.members = Arrays.copyOfRange(buf, 0, length);
            case TERM -> scan.term = Arrays.copyOfRange(buf, 0, length);
            case ENTRIES -> {
                EntryRef ref = new EntryRef(at, in.i64(), in.i32());
                if (ref.count > 0) {
                    scan.entries.addLast(ref);
                    stats.maxEntryIndex = Math.max(stats.maxEntryIndex, ref.last());
                }
            }
            case TRUNCATE_FROM -> {
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
            case SNAPSHOT_CHUNK_REF -> {
                long index = in.i64();
                int chunkIndex = in.i32();
                int chunkCount = in.i32();
                long dataAt = in.i64();
                snapshots.add(MODEL.createSnapshotChunkBuilder().setIndex(index).setSnapshotChunkIndex(chunkIndex)
                        .setSnapshotChunkCount(chunkCount).setTerm(in.i32()).setGroupMembersView(Codec.readMembersView(in))
                        .setOperation(new Operation.SnapshotPart(this, dataAt)).build(), dataAt);
                stats.maxChunkSnapshotIndex = Math.max(stats.maxChunkSnapshotIndex, index);
            }
            case SNAPSHOT_CHUNK -> {
                // Written by earlier versions: the whole chunk in one record, read here once and then left there.
                in.i64();
                in.i32();
                in.i32();
                SnapshotChunk chunk = Codec.readSnapshotChunk(in);
                ((Operation.SnapshotPart) chunk.getOperation()).movedTo(this, at);
                snapshots.add(chunk, at);
                stats.maxChunkSnapshotIndex = Math.max(stats.maxChunkSnapshotIndex, chunk.getIndex());
            }
            case DELETE_SNAPSHOT_CHUNKS -> snapshots.delete(in.i64());
            case COMPACTED -> {
                scan.compactedUpTo = Math.max(scan.compactedUpTo, in.i64());
                while (!scan.entries.isEmpty() && scan.entries.peekFirst().last() <= scan.compactedUpTo) {
                    scan.entries.removeFirst();
                }
            }
            case DISCARD -> {
                int n = in.i32();
                for (int i = 0; i < n; i++) {
                    scan.discarded.add(in.i64());
                }
            }
            default -> throw new IOException("the Raft log in " + dir + " has a record with unknown tag " + buf[4]
                    + " at Chronicle index " + Long.toHexString(at));
        }
    }

    private Optional<RestoredRaftState> build(Scan scan) throws IOException {
        Snapshots.ChunkSet snapshot = snapshots.newestComplete();
        long snapshotIndex = snapshot != null ? snapshot.index : 0;
        lastSnapshotIndex = snapshotIndex;
        if (scan.compactedUpTo > snapshotIndex) {
            throw new IOException("the Raft log in " + dir + " was compacted up to index " + scan.compactedUpTo
                    + " but its newest complete snapshot is at " + snapshotIndex);
        }
        endpointRecord = scan.endpoint;
        membersRecord = scan.members;
        termRecord = scan.term;
        if (scan.endpoint == null || scan.members == null) {
            if (scan.records > 0) {
                LOG.warn("Raft log in {} has {} record(s) but no local endpoint and initial members: starting as a"
                        + " new node", dir, scan.records);
            }
            return Optional.empty();
        }
        RaftEndpointPersistentState endpoint = Codec.readEndpointState(payload(scan.endpoint));
        RaftGroupMembersView members = Codec.readMembersView(payload(scan.members));
        RaftTermPersistentState term = scan.term != null ? Codec.readTermState(payload(scan.term))
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
        SnapshotEntry snapshotEntry = null;
        if (snapshot != null) {
            SnapshotChunk first = snapshot.chunks[0];
            snapshotEntry = MODEL.createSnapshotEntryBuilder().setIndex(snapshotIndex).setTerm(first.getTerm())
                    .setSnapshotChunks(List.of(snapshot.chunks)).setGroupMembersView(first.getGroupMembersView())
                    .build();
        }
        LOG.info("Raft log in {}: restored {} record(s) in {} cycle file(s): term {}, snapshot at {}, {} entries "
                + "after it", dir, scan.records, cycles.size(), term.getTerm(), snapshotIndex, entries.size());
        return Optional.of(new RestoredRaftState(endpoint, members, term, snapshotEntry, entries));
    }

    /**
     * The second pass: decodes the entry records found by the first, reading on from the earliest. Snapshot chunks
     * stay where they are until something needs them.
     */
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
        try (ExcerptTailer tailer = queue.createTailer()) {
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
                    if (!intact(buf, length)) {
                        throw new IOException("the Raft log in " + dir + " changed under restore at Chronicle index "
                                + Long.toHexString(at));
                    }
                    Reader in = new Reader(ByteBuffer.wrap(buf, HEADER_BYTES, length - HEADER_BYTES));
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

    private static Reader payload(byte[] record) {
        return new Reader(ByteBuffer.wrap(record, HEADER_BYTES, record.length - HEADER_BYTES));
    }

    // ------------------------------------------------------------------------------------------ plumbing

    /** Compaction's view of one cycle file. */
    private static final class CycleStats {
        long bytes;
        long maxEntryIndex;
        long maxChunkSnapshotIndex;
    }

    /**
     * Chronicle rolls cycles by the clock; this clock ticks when the store says a cycle is full, so cycle files
     * are bounded in size rather than in time.
     */
    private static final class LogicalClock implements TimeProvider {
        private final long cycleMillis;
        volatile int cycle;

        LogicalClock(long cycleMillis) {
            this.cycleMillis = cycleMillis;
        }

        @Override
        public long currentTimeMillis() {
            return cycle * cycleMillis;
        }

        @Override
        public long currentTimeMicros() {
            return currentTimeMillis() * 1_000;
        }

        @Override
        public long currentTimeNanos() {
            return currentTimeMillis() * 1_000_000;
        }
    }

    /**
     * The snapshot chunks in the log, by snapshot index, each with the Chronicle index of the record that holds its
     * bytes. The chunks hold no bytes themselves, so every snapshot the log still has fits in the heap.
     */
    private static final class Snapshots {
        private final TreeMap<Long, ChunkSet> byIndex = new TreeMap<>();

        static final class ChunkSet {
            final long index;
            final SnapshotChunk[] chunks;
            final long[] locations;
            int present;

            ChunkSet(long index, int count) {
                this.index = index;
                this.chunks = new SnapshotChunk[count];
                this.locations = new long[count];
                Arrays.fill(locations, -1);
            }

            boolean complete() {
                return present == locations.length;
            }

            int firstCycle(RollCycle rollCycle) {
                int first = Integer.MAX_VALUE;
                for (long at : locations) {
                    first = Math.min(first, rollCycle.toCycle(at));
                }
                return first;
            }
        }

        void add(SnapshotChunk chunk, long at) throws IOException {
            long index = chunk.getIndex();
            int chunkIndex = chunk.getSnapshotChunkIndex();
            int chunkCount = chunk.getSnapshotChunkCount();
            if (chunkCount <= 0 || chunkIndex < 0 || chunkIndex >= chunkCount) {
                throw new IOException("bad snapshot chunk " + chunkIndex + " of " + chunkCount + " at " + index);
            }
            ChunkSet set = byIndex.get(index);
            if (set == null || set.locations.length != chunkCount) {
                // A different chunk count means a different snapshot at the same index; it replaces the old one.
                set = new ChunkSet(index, chunkCount);
                byIndex.put(index, set);
            }
            if (set.locations[chunkIndex] < 0) {
                set.present++;
            }
            set.chunks[chunkIndex] = chunk;
            set.locations[chunkIndex] = at;
        }

        void delete(long index) {
            byIndex.remove(index);
        }

        ChunkSet newestComplete() {
            for (ChunkSet set : byIndex.descendingMap().values()) {
                if (set.complete()) {
                    return set;
                }
            }
            return null;
        }

        long newestCompleteIndex() {
            ChunkSet set = newestComplete();
            return set != null ? set.index : 0;
        }

        void forgetOlderThan(long index) {
            byIndex.headMap(index).clear();
        }
    }
}
