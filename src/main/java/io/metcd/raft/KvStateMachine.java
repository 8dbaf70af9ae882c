package io.metcd.raft;

import io.metcd.kv.KVStore;
import io.metcd.metrics.RaftMetrics;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.wal.ChronicleRaftStore;
import io.microraft.impl.statemachine.InternalCommitAware;
import io.microraft.statemachine.StateMachine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * MicroRaft's view of the store. Runs on the Raft thread and does no store work there: committed entries
 * go onto {@code commitC} for the store's applier (a full channel holds the Raft thread back, as a slow
 * application holds back etcd's Advance). Snapshots are the exception: MicroRaft wants the state at the
 * commit index now, so the Raft thread waits for the applier to reach it, as raftexample does.
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
    private final ChronicleRaftStore wal;
    private final FailStop failStop;
    private final IntSupplier currentTerm;
    private final RaftMetrics metrics;
    private final int snapshotCount;
    private final Runnable takeSnapshot;
    /** Client writes committed since the last snapshot was asked for; only the Raft thread touches it. */
    private long writesSinceSnapshot;

    /**
     * @param wal           where snapshot chunks go as they are taken, one at a time
     * @param currentTerm   this node's term; MicroRaft asks for the new-term operation once it leads in it
     * @param snapshotCount client writes between snapshots: MicroRaft counts log entries, which group many writes
     *                      each, so its count alone would let the log in memory grow with the size of the groups
     * @param takeSnapshot  asks MicroRaft for a snapshot at the commit index (it runs after the current task)
     * @param failStop      stops the node if a call from MicroRaft fails: MicroRaft would log it and go on
     */
    KvStateMachine(Channel.Sender<Commit> commitC, KVStore store, ChronicleRaftStore wal,
            IntSupplier currentTerm, RaftMetrics metrics, int snapshotCount, Runnable takeSnapshot, FailStop failStop) {
        this.commitC = commitC;
        this.store = store;
        this.wal = wal;
        this.failStop = failStop;
        this.snapshotCount = snapshotCount;
        this.takeSnapshot = takeSnapshot;
        this.currentTerm = currentTerm;
        this.metrics = metrics;
    }

    @Override
    public Object runOperation(long commitIndex, Object operation) {
        return stopOnFailure("applying the entry", commitIndex, () -> run(commitIndex, operation));
    }

    private Object run(long commitIndex, Object operation) {
        switch (operation) {
            case Operation.Batch batch -> {
                publish(new Commit.Apply(commitIndex, batch.proposals()));
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

    @Override
    public void takeSnapshot(long commitIndex, Consumer<Object> chunkConsumer) {
        long start = System.nanoTime();
        writesSinceSnapshot = 0;
        // MicroRaft gives the Raft thread no timeout; the applier never waits on it. This fails only if the applier
        // failed, which stopped the node.
        store.whenApplied(commitIndex).join();
        if (store.appliedIndex() != commitIndex) {
            // A restarted disk engine holds state past what MicroRaft has replayed so far. Auto snapshots cannot
            // land there (the engine never passes a snapshot point before that snapshot is in the WAL), a manual
            // one can: its chunks would not be the state at commitIndex, so refuse it.
            throw new IllegalStateException("the store is at index " + store.appliedIndex()
                    + ", past the snapshot index " + commitIndex + " that MicroRaft is replaying up to");
        }
        stopOnFailure("taking the snapshot", commitIndex,
                () -> store.snapshot(chunk -> chunkConsumer.accept(stage(commitIndex, chunk))));
        long took = System.nanoTime() - start;
        metrics.snapshotTaken(took);
        metrics.raftThreadStalled(took);
    }

    /** MicroRaft holds every chunk until the snapshot is complete: each goes to the WAL at once instead. */
    private Operation.SnapshotPart stage(long snapshotIndex, byte[] chunk) {
        try {
            return wal.stageSnapshotChunk(snapshotIndex, chunk);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The store reads the chunks from the WAL as it loads them, one at a time. */
    @Override
    public void installSnapshot(long commitIndex, List<Object> chunks) {
        List<Operation.SnapshotPart> parts = new ArrayList<>(chunks.size());
        for (Object chunk : chunks) {
            parts.add((Operation.SnapshotPart) chunk);
        }
        Iterable<byte[]> bytes = () -> parts.stream().map(Operation.SnapshotPart::bytes).iterator();
        stopOnFailure("installing the snapshot", commitIndex, () -> {
            wal.holdChunks(commitIndex);
            publish(new Commit.Restore(commitIndex, bytes, () -> wal.releaseChunks(commitIndex)));
        });
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
            commitC.put(commit);
            if (!(commit instanceof Commit.Restore)) {
                metrics.committed();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing commit " + commit.index(), e);
        }
    }
}
