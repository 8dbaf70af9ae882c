package io.metcd.model;

import java.util.List;
import java.util.function.Consumer;

/** What the Raft loop publishes on {@code commitC}, in log order, for the store to apply. */
public sealed interface Commit {
    /**
     * The most bytes of commits {@code commitC} holds before the Raft thread waits for the store. A restart replays up
     * to {@code --snapshot-count} writes after its snapshot (100,000 of a few hundred bytes by default: about 45 MB by
     * {@link #bytes}) while the store is still loading that snapshot, and the node must go on answering its leader and
     * its peers' votes meanwhile: an entry counts towards a commit once it is in the WAL, applied or not.
     */
    int CHANNEL_BYTES = 64 << 20;
    /** About what a commit holds in the heap besides its writes' keys and values. */
    int OVERHEAD_BYTES = 64;
    /** About what each write of a commit holds in the heap besides its key and value. */
    int WRITE_OVERHEAD_BYTES = 96;

    /**
     * The channel from the Raft thread to the store's applier, {@code commitC}. Bounded by the bytes its commits hold
     * rather than by their number: a count would hold the Raft thread back behind a thousand single writes as soon as
     * behind a thousand entries of a mebibyte each, and let those take a gibibyte.
     */
    static Channel<Commit> channel() {
        return new Channel<>(CHANNEL_BYTES, Commit::bytes);
    }

    /** The log index this commit brings the store to. */
    long index();

    /** About how many bytes of the heap the commit holds while it waits on {@code commitC}. */
    default int bytes() {
        return OVERHEAD_BYTES;
    }

    /** A committed batch of client writes, stamped with the leader's clock ({@link Operation.Batch}). */
    record Apply(long index, long stampMillis, List<Operation.Proposal> proposals) implements Commit {
        @Override
        public int bytes() {
            int bytes = OVERHEAD_BYTES;
            for (Operation.Proposal p : proposals) {
                bytes += WRITE_OVERHEAD_BYTES + p.command().size();
            }
            return bytes;
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
