package io.metcd.kv;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The replicated key-value store, as raftexample's kvstore: it proposes writes to the Raft loop and
 * applies what the loop commits. Implementations differ only in where the applied state lives (the
 * storage engine); the flow of data through the channels is the same for all of them.
 * <p>
 * Applying is deterministic and idempotent: after a restart MicroRaft installs the latest snapshot and
 * applies the log suffix again, so applying the same committed entries twice must yield the same state. A
 * store whose engine kept its state across the restart starts at the index it had applied and skips what
 * is replayed at or below it.
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

    /**
     * Streams the store's state at the current applied index to {@code chunks}, one chunk at a time, in a
     * format that depends only on the state: the same state gives the same chunks on every node and engine.
     * Must not run concurrently with {@link #readCommits()} applying something.
     */
    void snapshot(Consumer<byte[]> chunks);

    /**
     * Replaces the whole state with the one {@link #snapshot} produced (on any node, by any engine) at log
     * index {@code index}.
     */
    void recoverFromSnapshot(long index, Iterable<byte[]> chunks);

    /** The index of the last entry applied to this store. */
    long appliedIndex();

    /** The engine's name, as given to {@code --engine}. */
    String engine();
}
