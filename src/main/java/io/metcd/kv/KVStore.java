package io.metcd.kv;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The replicated key-value store, as raftexample's kvstore: it proposes writes to the Raft loop and
 * applies what the loop commits. Implementations differ only in where the applied state lives (the
 * storage engine); the flow of data through the channels is the same for all of them.
 * <p>
 * Applying is deterministic and idempotent: after a restart MicroRaft installs the latest snapshot and
 * applies the log suffix again, so applying the same committed entries twice must yield the same state.
 */
public interface KVStore extends AutoCloseable {

    /** The value this node has applied for {@code key}, or {@code null}: a local, possibly stale read. */
    byte[] lookup(String key);

    /**
     * Hands a write to the Raft loop through {@code proposeC}.
     *
     * @param value the new value, or {@code null} to delete the key
     * @return completed with the log index once the write is committed and applied on this node; failed
     *         with {@link ProposalRejectedException} when it certainly was not committed, or with another
     *         exception when the outcome is unknown
     */
    CompletableFuture<Long> propose(String key, byte[] value);

    /**
     * Applies committed entries from {@code commitC} in log order until the channel is closed; runs on
     * its own (virtual) thread, the only one that changes the store.
     */
    void readCommits();

    /** The store's state at the current applied index, as chunks of engine-encoded bytes. */
    List<byte[]> snapshot();

    /** Replaces the whole state with the one {@link #snapshot()} produced (on any node). */
    void recoverFromSnapshot(List<byte[]> chunks);

    /** The index of the last entry applied to this store. */
    long appliedIndex();

    /** The engine's name, as given to {@code --engine}. */
    String engine();
}
