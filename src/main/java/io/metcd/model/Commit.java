package io.metcd.model;

import java.util.List;
import java.util.function.Consumer;

/** What the Raft loop publishes on {@code commitC}, in log order, for the store to apply. */
public sealed interface Commit {
    /**
     * The channel from the Raft thread to the store's applier, {@code commitC}, for a node that takes a snapshot every
     * {@code snapshotCount} client writes. Its budget is that many writes, entries weighed by the writes they carry (as
     * the snapshots count them), not a number of entries:
     * <ul>
     * <li>A full channel holds the Raft thread back, as a slow application holds etcd back, so the store stays within
     * about an interval of the log: the snapshot this node asks for every interval can only be taken once the store
     * has taken the previous one's marker off the channel (its view opens as the applier's pass reaches it), so a
     * store that lags does not see each of those snapshots given up by the next one, still waiting for its view, and
     * never make one durable nor let the WAL be compacted. (A snapshot MicroRaft takes at its own count of entries,
     * or one an operator asks for, may still replace one waiting for its view; the newer one is then written.)</li>
     * <li>Up to that, the Raft thread does not wait: a node restarted from a snapshot replays the entries after it
     * (fewer writes than an interval, as a rule) while its store is still loading the snapshot, and goes on answering
     * its leader and its peers' votes meanwhile; an entry counts towards a commit once it is in the WAL, applied or
     * not.</li>
     * <li>The entries it holds are ones MicroRaft's log holds too, or held until its latest snapshot.</li>
     * </ul>
     * A count of entries did not: 1,024 of them held a restarting node's Raft thread back behind 1,024 single writes,
     * and let the store fall more than an interval behind when entries grouped many writes (up to 512 each).
     */
    static Channel<Commit> channel(int snapshotCount) {
        return new Channel<>(snapshotCount, Commit::writes);
    }

    /** The log index this commit brings the store to. */
    long index();

    /** The client writes this commit applies; a commit that applies none weighs as one on {@code commitC}. */
    default int writes() {
        return 0;
    }

    /** A committed batch of client writes, stamped with the leader's clock ({@link Operation.Batch}). */
    record Apply(long index, long stampMillis, List<Operation.Proposal> proposals) implements Commit {
        @Override
        public int writes() {
            return proposals.size();
        }
    }

    /**
     * A committed membership change: it changes no key, only the index the store has reached. (MicroRaft applies
     * the change itself; etcd's raftexample would apply a ConfChange entry here.)
     */
    record MembershipChanged(long index) implements Commit {
    }

    /** A new leader's first entry, in {@code term}: writes forwarded in earlier terms and not yet applied are lost. */
    record TermStarted(long index, int term) implements Commit {
    }

    /**
     * Take a snapshot at {@code index}: the store, at exactly that index (this marker follows entry {@code index} in log
     * order), opens a {@link StateView} of its state and hands it to {@code viewOpened}, then goes on applying. The Raft
     * thread publishes it and moves on: the state is written elsewhere, from the view.
     */
    record Snapshot(long index, Consumer<StateView> viewOpened) implements Commit {
    }

    /**
     * Replace the whole store with a snapshot taken at {@code index} (installed from the leader or on restart). The
     * chunks are read from the WAL one at a time as they are iterated; {@code done} lets the WAL delete them, once the
     * store has loaded them or found it already holds that state.
     */
    record Restore(long index, Iterable<byte[]> chunks, Runnable done) implements Commit {
        public Restore(long index, Iterable<byte[]> chunks) {
            this(index, chunks, () -> {
            });
        }
    }
}
