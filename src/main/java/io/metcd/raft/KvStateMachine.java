package io.metcd.raft;

import io.metcd.kv.KVStore;
import io.metcd.metrics.RaftMetrics;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.model.StateView;
import io.metcd.wal.SnapshotFiles;
import io.microraft.impl.statemachine.InternalCommitAware;
import io.microraft.statemachine.StateMachine;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * MicroRaft's view of the store. Runs on the Raft thread and does no store work there: committed entries go onto
 * {@code commitC} for the store's applier (a full channel holds the Raft thread back, as a slow application holds back
 * etcd's Advance), and so does a snapshot, as a marker.
 * <p>
 * <b>Snapshots.</b> MicroRaft takes them on its Raft thread and wants the chunks at once. So taking one costs the Raft
 * thread a marker on {@code commitC} and a few references: the store, on reaching the marker, opens a view of its state
 * at exactly that index and goes on applying, and {@link SnapshotFiles} writes the view out on a thread of its own.
 * The chunks handed to MicroRaft refer to bytes not written yet; their number is fixed now, from an upper bound of the
 * state's size at that index: the size of the latest snapshot written plus the most the writes published since can
 * add (the store says how much that is), trailing chunks being empty.
 * <p>
 * MicroRaft catches what these methods throw (an operation's failure becomes its answer, and the entry still counts
 * as applied; a snapshot's fails the snapshot) and goes on: so whatever they throw first stops the node.
 */
final class KvStateMachine implements StateMachine, InternalCommitAware {
    /** A query whose answer is the commit index at which the leader confirmed its leadership (ReadIndex). */
    static final Object READ_INDEX = new Object() {
        @Override
        public String toString() {
            return "ReadIndex";
        }
    };

    private final Channel.Sender<Commit> commitC;
    private final KVStore store;
    private final SnapshotFiles snapshots;
    private final FailStop failStop;
    private final IntSupplier currentTerm;
    private final RaftMetrics metrics;
    private final int snapshotCount;
    private final Runnable takeSnapshot;

    // Only the Raft thread touches these.
    /** Client writes committed since the last snapshot was asked for. */
    private long writesSinceSnapshot;
    /** What the writes published so far can add to a snapshot's size, in all: a running total. */
    private long growth;
    /** A snapshot's size, and the running total of growth at its index: the size bound counts from there. */
    private long baseBytes;
    private long baseGrowth;
    /** The running total of growth at each snapshot taken here, until one of them is written. */
    private final TreeMap<Long, Long> growthAt = new TreeMap<>();

    /**
     * @param snapshots     where snapshots are written, and read from when they are installed
     * @param currentTerm   this node's term; MicroRaft asks for the new-term operation once it leads in it
     * @param snapshotCount client writes between snapshots: MicroRaft counts log entries, which group many writes
     *                      each, so its count alone would let the log in memory grow with the size of the groups
     * @param takeSnapshot  asks MicroRaft for a snapshot at the commit index (it runs after the current task)
     * @param failStop      stops the node if a call from MicroRaft fails: MicroRaft would log it and go on
     */
    KvStateMachine(Channel.Sender<Commit> commitC, KVStore store, SnapshotFiles snapshots, IntSupplier currentTerm,
            RaftMetrics metrics, int snapshotCount, Runnable takeSnapshot, FailStop failStop) {
        this.commitC = commitC;
        this.store = store;
        this.snapshots = snapshots;
        this.failStop = failStop;
        this.snapshotCount = snapshotCount;
        this.takeSnapshot = takeSnapshot;
        this.currentTerm = currentTerm;
        this.metrics = metrics;
        this.baseBytes = store.emptySnapshotBytes();
    }

    @Override
    public Object runOperation(long commitIndex, Object operation) {
        return stopOnFailure("applying the entry", commitIndex, () -> run(commitIndex, operation));
    }

    private Object run(long commitIndex, Object operation) {
        switch (operation) {
            case Operation.Batch batch -> {
                publish(new Commit.Apply(commitIndex, batch.stampMillis(), batch.proposals()));
                growth += store.snapshotGrowthBound(batch.proposals());
                writesSinceSnapshot += batch.proposals().size();
                if (writesSinceSnapshot >= snapshotCount) {
                    writesSinceSnapshot = 0;
                    takeSnapshot.run();
                }
            }
            case Operation.NewTerm t -> publish(new Commit.TermStarted(commitIndex, t.term()));
            default -> {
                if (operation != READ_INDEX) {
                    throw new IllegalArgumentException("not an operation: " + operation);
                }
            }
        }
        return commitIndex;
    }

    @Override
    public void onInternalCommit(long commitIndex) {
        stopOnFailure("applying the membership change", commitIndex, () -> publish(new Commit.MembershipChanged(commitIndex)));
    }

    /**
     * Publishes the snapshot's marker and hands MicroRaft references to chunks that {@link SnapshotFiles} writes once
     * the store has opened its view: no waiting for the store, no copying its state.
     */
    @Override
    public void takeSnapshot(long commitIndex, Consumer<Object> chunkConsumer) {
        long start = System.nanoTime();
        writesSinceSnapshot = 0;
        stopOnFailure("taking the snapshot", commitIndex, () -> {
            int chunks = (int) Math.max(1, Math.ceilDiv(sizeBound(), SnapshotFiles.CHUNK_BYTES));
            Consumer<StateView> viewTarget = snapshots.begin(commitIndex, chunks);
            growthAt.put(commitIndex, growth);
            publish(new Commit.Snapshot(commitIndex, viewTarget));
            CrashPoint.SNAPSHOT_MARKER_PUBLISHED.reached();
            for (int k = 0; k < chunks; k++) {
                chunkConsumer.accept(new Operation.SnapshotPart(snapshots, commitIndex, k));
            }
        });
        long took = System.nanoTime() - start;
        metrics.snapshotTaken(took);
        metrics.raftThreadStalled(took);
    }

    /** An upper bound of the size of the state at the index published last. */
    private long sizeBound() {
        long durable = snapshots.newestDurableIndex();
        Long growthThen = growthAt.get(durable);
        long bytes = snapshots.streamBytes(durable);
        if (growthThen != null && bytes >= 0 && bytes - growthThen < baseBytes - baseGrowth) {
            baseBytes = bytes;
            baseGrowth = growthThen;
        }
        growthAt.headMap(durable, true).clear();
        return baseBytes + growth - baseGrowth;
    }

    /**
     * Has the store load a snapshot received from the leader, or restored from disk: it reads the chunks from the
     * snapshot files one at a time as it loads them. A snapshot that a restarted disk engine holds as its own state
     * (see {@link EngineRestart}) is not loaded but written, from a view of that state, as one taken here.
     */
    @Override
    public void installSnapshot(long commitIndex, List<Object> chunks) {
        stopOnFailure("installing the snapshot", commitIndex, () -> {
            Optional<Consumer<StateView>> ownState = snapshots.awaitingView(commitIndex);
            growthAt.clear();
            baseGrowth = growth;
            if (ownState.isPresent()) {
                baseBytes = (long) chunks.size() * SnapshotFiles.CHUNK_BYTES;
                publish(new Commit.Snapshot(commitIndex, ownState.get()));
                return;
            }
            baseBytes = snapshots.streamBytes(commitIndex);
            if (baseBytes < 0) {
                throw new IllegalStateException("the snapshot at " + commitIndex + " is not on disk");
            }
            List<Operation.SnapshotPart> parts = new ArrayList<>(chunks.size());
            for (Object chunk : chunks) {
                parts.add((Operation.SnapshotPart) chunk);
            }
            snapshots.hold(commitIndex);
            publish(new Commit.Restore(commitIndex, () -> loading(parts), () -> snapshots.release(commitIndex)));
        });
    }

    /** The chunks' bytes, each read when the store gets to it. */
    private static Iterator<byte[]> loading(List<Operation.SnapshotPart> parts) {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < parts.size();
            }

            @Override
            public byte[] next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                if (parts.size() >= 2 && next == (parts.size() + 1) / 2) {
                    CrashPoint.SNAPSHOT_HALF_INSTALLED.reached();
                }
                return parts.get(next++).bytes();
            }
        };
    }

    @Override
    public Object getNewTermOperation() {
        return new Operation.NewTerm(currentTerm.getAsInt());
    }

    private void stopOnFailure(String action, long index, Runnable call) {
        stopOnFailure(action, index, () -> {
            call.run();
            return null;
        });
    }

    /** Runs {@code call}; if it throws, stops the node first. */
    private <T> T stopOnFailure(String action, long index, Supplier<T> call) {
        try {
            return call.get();
        } catch (RuntimeException | Error e) {
            failStop.stop(action + " at index " + index + " failed", e);
            throw e;
        }
    }

    private void publish(Commit commit) {
        try {
            if (!commitC.offer(commit)) {
                long start = System.nanoTime();
                commitC.put(commit);
                metrics.commitWaited(System.nanoTime() - start);
            }
            if (commit instanceof Commit.Apply || commit instanceof Commit.TermStarted
                    || commit instanceof Commit.MembershipChanged) {
                metrics.committed();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing commit " + commit.index(), e);
        }
    }
}
