package io.metcd.model;

import java.util.List;

/**
 * What goes into a Raft log entry's operation slot, and into snapshot chunks. Every implementation is
 * encoded by {@link io.metcd.codec.Codec}; nothing else may reach MicroRaft as an operation.
 */
public sealed interface Operation {

    /**
     * A group of client proposals committed together as one log entry (the group commit of the propose loop).
     *
     * @param stampMillis the leader's wall clock when it built the batch, in ms since the epoch: the time every node
     *                    applies the batch's commands at (a time to live counts from it), whatever its own clock says
     */
    record Batch(long stampMillis, List<Proposal> proposals) implements Operation {
    }

    /**
     * The entry a new leader appends to commit its term (MicroRaft's new-term operation). It changes no key;
     * once it is applied, no write handed to a leader of an earlier term can still commit.
     */
    record NewTerm(int term) implements Operation {
    }

    /**
     * One snapshot chunk: an opaque, engine-encoded slice of the key space. A chunk starts in the heap (taken from
     * the store, or received from a peer) and moves to the WAL once persisted there, after which it holds only
     * where it lies: MicroRaft keeps every chunk of the latest snapshot for as long as it is the latest, and a
     * store's worth of chunks must not stay in the heap beside the store.
     */
    final class SnapshotPart implements Operation {
        private volatile byte[] inHeap;
        private volatile ChunkSource source;
        private volatile long location;

        public SnapshotPart(byte[] bytes) {
            this.inHeap = bytes;
        }

        /** A chunk that lies in {@code source} at {@code location}. */
        public SnapshotPart(ChunkSource source, long location) {
            this.source = source;
            this.location = location;
        }

        /** The chunk's bytes: from the heap, or read again from where it lies (nothing is kept). */
        public byte[] bytes() {
            byte[] bytes = inHeap;
            return bytes != null ? bytes : source.readChunk(location);
        }

        /** Where the chunk lies in its {@link ChunkSource}; meaningless while it is only in the heap. */
        public long location() {
            return location;
        }

        /** Whether the chunk already lies in {@code s}. */
        public boolean liesIn(ChunkSource s) {
            return inHeap == null && source == s;
        }

        /** Records that the chunk now also lies in {@code s}, and lets go of its bytes in the heap. */
        public void movedTo(ChunkSource s, long at) {
            source = s;
            location = at;
            inHeap = null;
        }

        @Override
        public String toString() {
            return inHeap != null ? "SnapshotPart[" + inHeap.length + " bytes]" : "SnapshotPart[at " + location + "]";
        }
    }

    /** Where persisted snapshot chunks lie: the WAL. */
    interface ChunkSource {
        /**
         * Reads the chunk at {@code location} again.
         *
         * @throws java.io.UncheckedIOException if it is gone (a newer snapshot replaced it) or damaged
         * @throws Closed if the source was closed: the node is stopping, and nothing is wrong with the chunk
         */
        byte[] readChunk(long location);

        /** A chunk could not be read because its source was closed, as the node stops. */
        final class Closed extends IllegalStateException {
            public Closed(String message, Throwable cause) {
                super(message, cause);
            }
        }
    }

    /**
     * A client write. {@code origin} and {@code seq} name the proposal so that the node that accepted it
     * from a client can answer the client when it applies the entry; they do not affect the store.
     */
    record Proposal(int origin, long seq, Command command) {
    }
}
