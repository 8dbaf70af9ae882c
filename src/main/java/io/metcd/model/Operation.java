package io.metcd.model;

import java.util.List;
import java.util.concurrent.CompletableFuture;

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
     * One snapshot chunk: an opaque slice of a snapshot's bytes. A chunk received from a peer starts in the heap and
     * moves to this node's snapshot files once persisted there; a chunk of a snapshot taken here is only a reference
     * from the start, to bytes written a little later, off the Raft thread. MicroRaft keeps every chunk of the latest
     * snapshot for as long as it is the latest, and a store's worth of chunks must not stay in the heap beside the store.
     */
    final class SnapshotPart implements Operation {
        private volatile byte[] inHeap;
        private volatile ChunkSource source;
        private volatile long snapshotIndex;
        private volatile int chunk;

        public SnapshotPart(byte[] bytes) {
            this.inHeap = bytes;
        }

        /** Chunk {@code chunk} of the snapshot at {@code snapshotIndex} in {@code source}. */
        public SnapshotPart(ChunkSource source, long snapshotIndex, int chunk) {
            this.source = source;
            this.snapshotIndex = snapshotIndex;
            this.chunk = chunk;
        }

        /**
         * The chunk's bytes: from the heap, or read from where it lies (nothing is kept).
         *
         * @throws ChunkSource.Unavailable if it is not written yet, or gone
         */
        public byte[] bytes() {
            byte[] bytes = inHeap;
            return bytes != null ? bytes : source.readChunk(snapshotIndex, chunk);
        }

        /** Completes once {@link #bytes()} can be read without waiting; fails if it never can. */
        public CompletableFuture<Void> whenReadable() {
            return inHeap != null ? CompletableFuture.completedFuture(null) : source.whenReadable(snapshotIndex, chunk);
        }

        /** Whether the chunk lies in {@code s} rather than in the heap. */
        public boolean liesIn(ChunkSource s) {
            return inHeap == null && source == s;
        }

        /** Records that the chunk now lies in {@code s}, and lets go of its bytes in the heap. */
        public void movedTo(ChunkSource s, long index, int chunkIndex) {
            source = s;
            snapshotIndex = index;
            chunk = chunkIndex;
            inHeap = null;
        }

        @Override
        public String toString() {
            byte[] bytes = inHeap;
            return bytes != null ? "SnapshotPart[" + bytes.length + " bytes]"
                    : "SnapshotPart[chunk " + chunk + " of the snapshot at " + snapshotIndex + "]";
        }
    }

    /** Where snapshot chunks lie: this node's snapshot files. */
    interface ChunkSource {
        /**
         * Reads chunk {@code chunk} of the snapshot at {@code snapshotIndex}, on any thread.
         *
         * @throws Unavailable if it is not written yet, or gone (a newer snapshot replaced it)
         * @throws Closed if the source was closed: the node is stopping, and nothing is wrong with the chunk
         * @throws java.io.UncheckedIOException if it is damaged or cannot be read
         */
        byte[] readChunk(long snapshotIndex, int chunk);

        /**
         * Completes once {@link #readChunk} returns the chunk without waiting; fails with {@link Unavailable} if the
         * snapshot is given up before it is written that far.
         */
        CompletableFuture<Void> whenReadable(long snapshotIndex, int chunk);

        /** A chunk could not be read because its source was closed, as the node stops. */
        final class Closed extends IllegalStateException {
            public Closed(String message, Throwable cause) {
                super(message, cause);
            }
        }

        /**
         * A chunk that is not there to read: not written yet (the snapshot is being written from its view), or no
         * longer (a newer snapshot replaced its own). Raft asks for it again, or for a newer snapshot's.
         */
        final class Unavailable extends IllegalStateException {
            public Unavailable(String message) {
                super(message);
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
