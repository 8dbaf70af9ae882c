package io.metcd.raft;

import java.util.List;

/**
 * What goes into a Raft log entry's operation slot, and into snapshot chunks. Every implementation is
 * encoded by {@link io.metcd.transport.Codec}; nothing else may reach MicroRaft as an operation.
 */
public sealed interface Operation {

    /** A group of client proposals committed together as one log entry (the group commit of the propose loop). */
    record Batch(List<Proposal> proposals) implements Operation {
    }

    /**
     * The entry a new leader appends to commit its term (MicroRaft's new-term operation). It changes no key;
     * once it is applied, no write handed to a leader of an earlier term can still commit.
     */
    record NewTerm(int term) implements Operation {
    }

    /** One snapshot chunk: an opaque, engine-encoded slice of the key space. */
    record SnapshotPart(byte[] bytes) implements Operation {
    }

    /**
     * A client write. {@code origin} and {@code seq} name the proposal so that the node that accepted it
     * from a client can answer the client when it applies the entry; they do not affect the store.
     *
     * @param value the value of a PUT, {@code null} for a DELETE
     */
    record Proposal(int origin, long seq, String key, byte[] value) {
        public boolean isDelete() {
            return value == null;
        }
    }
}
