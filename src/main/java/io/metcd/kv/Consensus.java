package io.metcd.kv;

import io.metcd.model.ProposalRejectedException;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** What the store asks of consensus for its clients; the Raft loop implements it. */
public interface Consensus {
    /** Waits up to {@code timeout} for a leader to be known (this node or another); returns whether one is. */
    boolean awaitLeader(Duration timeout) throws InterruptedException;

    /** Whether this node leads, as far as it knows: the leader's expiry loop runs only then. */
    boolean leads();

    /**
     * Raft's ReadIndex: the index a read must wait for to see every write acknowledged before it started.
     *
     * @param linearizable confirm the leadership with a heartbeat round rather than the leader's lease
     * @return completed with the index; failed with {@link ProposalRejectedException} when no leader could answer
     *         (asking again may work), or with another exception when the leader did not confirm it
     */
    CompletableFuture<Long> readIndex(boolean linearizable);
}
