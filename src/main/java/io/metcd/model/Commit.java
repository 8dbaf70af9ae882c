package io.metcd.model;

import java.util.List;
import java.util.function.Consumer;

/** What the Raft loop publishes on {@code commitC}, in log order, for the store to apply. */
public sealed interface Commit {
    /** The log index this commit brings the store to. */
    long index();

    /** A committed batch of client writes, stamped with the leader's clock ({@link Operation.Batch}). */
    record Apply(long index, long stampMillis, List<Operation.Proposal> proposals) implements Commit {
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
