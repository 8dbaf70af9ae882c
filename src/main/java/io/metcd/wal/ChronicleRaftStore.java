package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Writer;
import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.microraft.lifecycle.RaftNodeLifecycleAware;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.persistence.RaftEndpointPersistentState;
import io.microraft.model.persistence.RaftTermPersistentState;
import io.microraft.persistence.RaftStore;
import io.microraft.persistence.RestoredRaftState;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.LongConsumer;

/**
 * MicroRaft's write-ahead log on a Chronicle Queue: every {@link RaftStore} call appends one self-checking record
 * ({@link Records}) to the cycle files of a {@link CycleLog}, and {@link #restore()} replays them
 * ({@link Restore}) into a {@link RestoredRaftState}. Snapshots live in files of their own ({@link SnapshotFiles}),
 * which this store is given and owns: the chunks MicroRaft persists go there, and restore starts from the newest
 * durable one. Entries are deleted only once a durable snapshot covers them ({@link #truncateLogEntriesUntil}).
 * <p>
 * <b>Lifecycle.</b> {@link #open} the store, call {@link #restore()} exactly once (before the store is handed to
 * MicroRaft, and whether or not it finds a state), and give the store to the {@code RaftNode} builder. MicroRaft
 * closes it when the node terminates ({@link RaftNodeLifecycleAware}), after its last call; whoever opened it closes
 * it only if the node never started.
 * <p>
 * <b>Durability.</b> {@link #flush()} and the {@code persistAndFlush...} methods msync the queue once; the other
 * methods only append, as {@link RaftStore} allows. An msync that fails fails them, and the store (below): Chronicle
 * only reports it ({@link ChronicleErrors}) and would count those pages as synced.
 * <p>
 * <b>Fail-stop.</b> MicroRaft logs a store's {@link IOException} and carries on, which would let a node acknowledge
 * entries it never stored. So the first failure of any method marks the store failed, has the node's {@link FailStop}
 * stop the node (which logs the cause) and throws; every later call throws at once.
 * <p>
 * <b>Threads.</b> The owner calls {@link #restore()}, MicroRaft's Raft thread the {@link RaftStore} methods (its
 * executor orders the two).
 */
public final class ChronicleRaftStore implements RaftStore, RaftNodeLifecycleAware, AutoCloseable {
    /**
     * How big a roll-cycle file grows before writes move on to a new one, unless {@link #open} is told otherwise. The
     * cycle being written stays mapped, and every page of it written so far stays resident in the node's memory: 64 MiB
     * cycles held 57 MB of a node's resident memory after the 100k-key benchmark.
     */
    public static final long DEFAULT_CYCLE_BYTES = 16L << 20;

    private static final Logger LOG = LoggerFactory.getLogger(ChronicleRaftStore.class);

    private final Path dir;
    private final FailStop failStop;
    private final CycleLog log;
    private final SnapshotFiles snapshots;
    private final Compaction compaction;
    /** The highest index MicroRaft asked to compact up to, and the highest a record says was: Raft thread only. */
    private long compactionAsked;
    private long compactionRecorded;

    // The last of each, as written, so that compaction can copy them forward before it deletes older copies.
    private byte[] endpointRecord;
    private byte[] membersRecord;
    private byte[] termRecord;

    private boolean restoreCalled;
    private boolean restored;
    private volatile boolean failed;
    private volatile boolean closed;

    /** A call on the log that may fail. */
    @FunctionalInterface
    private interface LogCall<T> {
        T run() throws IOException;
    }

    private ChronicleRaftStore(Path dir, SnapshotFiles snapshots, long cycleBytes, FailStop failStop) {
        this.dir = dir;
        this.failStop = failStop;
        this.snapshots = snapshots;
        this.log = new CycleLog(dir, cycleBytes);
        this.compaction = new Compaction(dir, log);
    }

    /**
     * Opens (creating it if needed) the Raft log in {@code dir}, rolling to a new cycle file every
     * {@link #DEFAULT_CYCLE_BYTES}.
     *
     * @param snapshots the node's snapshots, which this store closes when it closes
     * @param failStop  stops the node on the first failure of any {@link RaftStore} method
     * @throws UncheckedIOException if the directory or the queue cannot be opened
     */
    public static ChronicleRaftStore open(Path dir, SnapshotFiles snapshots, FailStop failStop) {
        return open(dir, snapshots, DEFAULT_CYCLE_BYTES, failStop);
    }

    /**
     * Opens (creating it if needed) the Raft log in {@code dir}.
     *
     * @param snapshots  the node's snapshots, which this store closes when it closes
     * @param cycleBytes roughly how big a cycle file grows before writes move on to a new one, the unit in which
     *                   compaction frees disk space; a single record (one log entry) may not be larger
     * @param failStop   stops the node on the first failure of any {@link RaftStore} method
     * @throws UncheckedIOException if the directory or the queue cannot be opened
     */
    public static ChronicleRaftStore open(Path dir, SnapshotFiles snapshots, long cycleBytes, FailStop failStop) {
        if (cycleBytes < 4096) {
            throw new IllegalArgumentException("cycle size must be at least 4 KiB, not " + cycleBytes);
        }
        try {
            Files.createDirectories(dir);
            return new ChronicleRaftStore(dir, snapshots, cycleBytes, failStop);
        } catch (IOException | RuntimeException e) {
            throw new UncheckedIOException(new IOException("cannot open the Raft log in " + dir, e));
        }
    }

    /**
     * Reads the whole log and rebuilds what MicroRaft needs to restart this node, for
     * {@code RaftNodeBuilder.setRestoredState}. Must be called once, before MicroRaft uses the store.
     * <p>
     * The state is the last endpoint, initial members and term written; the newest durable snapshot; and the log
     * entries after it, with truncated entries left out. A record torn
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
            Restore restore = new Restore(dir, log, snapshots);
            Restore.Scan scan = restore.scan();
            if (!scan.tornTail.isEmpty()) {
                LOG.warn("Raft log in {}: dropping {} damaged record(s) at its end, left by a crash mid-write",
                        dir, scan.tornTail.size());
                Writer out = log.begin(Records.DISCARD).i32(scan.tornTail.size());
                for (long at : scan.tornTail) {
                    out.i64(at);
                }
                log.append();
                log.sync();
            }
            log.rollIfFull();
            Optional<RestoredRaftState> state = restore.build(scan);
            compactionRecorded = scan.compactedUpTo;
            compactionAsked = scan.compactedUpTo;
            endpointRecord = scan.endpoint;
            membersRecord = scan.members;
            termRecord = scan.term;
            restored = true;
            return state;
        } catch (IOException | RuntimeException e) {
            throw new UncheckedIOException(new IOException("cannot restore the Raft log in " + dir, e));
        }
    }

    /** The index of the newest durable snapshot, 0 when there is none. */
    public long lastSnapshotIndex() {
        return snapshots.newestDurableIndex();
    }

    /** The node's snapshots. */
    public SnapshotFiles snapshots() {
        return snapshots;
    }

    // ------------------------------------------------------------------------------------- RaftStore

    @Override
    public void persistAndFlushLocalEndpoint(RaftEndpointPersistentState state) throws IOException {
        endpointRecord = guarded("persistAndFlushLocalEndpoint", () -> {
            Codec.writeEndpointState(log.begin(Records.ENDPOINT), state);
            return appendAndSync();
        });
    }

    @Override
    public void persistAndFlushInitialGroupMembers(RaftGroupMembersView initialGroupMembers) throws IOException {
        membersRecord = guarded("persistAndFlushInitialGroupMembers", () -> {
            Codec.writeMembersView(log.begin(Records.INITIAL_MEMBERS), initialGroupMembers);
            return appendAndSync();
        });
    }

    @Override
    public void persistAndFlushTerm(RaftTermPersistentState termPersistentState) throws IOException {
        termRecord = guarded("persistAndFlushTerm", () -> {
            Codec.writeTermState(log.begin(Records.TERM), termPersistentState);
            return appendAndSync();
        });
    }

    /** Appends the record begun, syncs, and returns it whole. */
    private byte[] appendAndSync() throws IOException {
        log.append();
        byte[] record = log.lastRecord();
        log.sync();
        return record;
    }

    /**
     * Appends the entries as one record ({@code [first index:8][count:4][entries]}); only a batch too big for one
     * record is split. Durable after the next {@link #flush()}.
     */
    @Override
    public void persistLogEntries(List<LogEntry> logEntries) throws IOException {
        guarded("persistLogEntries", () -> {
            int n = logEntries.size();
            int i = 0;
            while (i < n) {
                Writer out = log.begin(Records.ENTRIES).i64(logEntries.get(i).getIndex());
                int countAt = out.length();
                out.i32(0);
                int first = i;
                do {
                    Codec.writeLogEntry(out, logEntries.get(i++));
                } while (i < n && out.length() < log.maxRecordBytes() / 2);
                out.putI32(countAt, i - first);
                CycleLog.CycleStats stats = log.append();
                stats.maxEntryIndex = Math.max(stats.maxEntryIndex, logEntries.get(i - 1).getIndex());
            }
            return null;
        });
    }

    /**
     * Persists the chunk in the snapshot files: the bytes of a chunk received in the heap are written there; a chunk of
     * a snapshot taken here (written there from the store's view) only tells its term and members. Durable after the
     * next {@link #flush()} once the snapshot has all its chunks, or once written from its view.
     */
    @Override
    public void persistSnapshotChunk(SnapshotChunk chunk) throws IOException {
        guarded("persistSnapshotChunk", () -> {
            snapshots.persist(chunk);
            return null;
        });
    }

    /** Appends a marker that hides, from restore, the entries from {@code logIndexInclusive} written before it. */
    @Override
    public void truncateLogEntriesFrom(long logIndexInclusive) throws IOException {
        guarded("truncateLogEntriesFrom", () -> {
            log.begin(Records.TRUNCATE_FROM).i64(logIndexInclusive);
            return log.append();
        });
    }

    /**
     * Records that entries up to {@code logIndexInclusive} are no longer needed, as far as a durable snapshot covers
     * them, and deletes the oldest cycle files that hold nothing else restore needs ({@link Compaction}). MicroRaft
     * asks as soon as it took a snapshot, which is durable only once written: what it covers is compacted at a later
     * call, once it is.
     */
    @Override
    public void truncateLogEntriesUntil(long logIndexInclusive) throws IOException {
        guarded("truncateLogEntriesUntil", () -> {
            compactionAsked = Math.max(compactionAsked, logIndexInclusive);
            long upTo = Math.min(compactionAsked, snapshots.newestDurableIndex());
            if (upTo > compactionRecorded) {
                log.begin(Records.COMPACTED).i64(upTo);
                log.append();
                compactionRecorded = upTo;
                CrashPoint.WAL_COMPACTING.reached();
                compaction.compact(upTo, identity());
            }
            return null;
        });
    }

    /** The latest endpoint, initial members and term records written. */
    private List<byte[]> identity() {
        return Arrays.stream(new byte[][] {endpointRecord, membersRecord, termRecord}).filter(Objects::nonNull)
                .toList();
    }

    /** Gives up the chunks of a snapshot MicroRaft stopped collecting from the leader. */
    @Override
    public void deleteSnapshotChunks(long logIndex, int snapshotChunkCount) throws IOException {
        guarded("deleteSnapshotChunks", () -> {
            snapshots.discard(logIndex);
            return null;
        });
    }

    /**
     * Msyncs everything appended so far (one msync however many records there are), and makes a snapshot received
     * whole durable.
     */
    @Override
    public void flush() throws IOException {
        guarded("flush", () -> {
            log.sync();
            snapshots.syncReceived();
            return null;
        });
    }

    /**
     * Runs {@code call} on the log, once the store is usable. Its first failure of any kind stops the node, and the
     * store for good: MicroRaft would only log it and go on.
     */
    private <T> T guarded(String operation, LogCall<T> call) throws IOException {
        if (!restored) {
            throw new IllegalStateException("restore() must be called before the store is used");
        }
        if (failed) {
            throw new IOException("the Raft log in " + dir + " failed earlier; this node must stop");
        }
        if (closed) {
            throw new IOException("the Raft log in " + dir + " is closed");
        }
        try {
            return call.run();
        } catch (IOException | RuntimeException | Error e) {
            // After close() a failure is the queue shutting down under a late call, not a disk that lost a write.
            if (!failed && !closed) {
                failed = true;
                failStop.stop("the Raft log in " + dir + " failed in " + operation, e);
            }
            throw new IOException(operation + " failed on the Raft log in " + dir, e);
        }
    }

    // ---------------------------------------------------------------------------------------- lifecycle

    /** Tells {@code observer} how long each msync of the log takes, in nanoseconds (for the metrics). */
    public void reportSyncTimes(LongConsumer observer) {
        log.reportSyncTimes(observer);
    }

    /** MicroRaft calls no method any more: the log closes. */
    @Override
    public void onRaftNodeTerminate() {
        close();
    }

    /**
     * Closes the queue and the snapshot files; later calls throw {@link IOException} without stopping the node.
     * MicroRaft closes the store as its node terminates; only a store whose node never started is closed by hand.
     * Chronicle does not expect its queue closed under a write in progress.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            snapshots.close();
        } finally {
            log.close();
        }
    }

    /** The queue underneath, for tests that break it. */
    SingleChronicleQueue queue() {
        return log.queue();
    }
}
