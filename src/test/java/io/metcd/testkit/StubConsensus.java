package io.metcd.testkit;

import io.metcd.kv.Consensus;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * Consensus as a store sees it, played by a test: a leader is always known (this node only when the test says so), and
 * read indexes are what it says.
 */
public final class StubConsensus implements Consensus {
    /** Whether each read index asked for was for a linearizable read, in order. */
    public final List<Boolean> readIndexesAsked = new CopyOnWriteArrayList<>();
    private volatile Supplier<CompletableFuture<Long>> readIndex = () -> CompletableFuture.completedFuture(0L);

    /** Answers every later read index with what {@code answer} gives. */
    public StubConsensus answeringReadIndexWith(Supplier<CompletableFuture<Long>> answer) {
        this.readIndex = answer;
        return this;
    }

    /** Whether this node leads: the store's expiry loop runs then. */
    public volatile boolean leads;

    @Override
    public boolean awaitLeader(Duration timeout) {
        return true;
    }

    @Override
    public boolean leads() {
        return leads;
    }

    @Override
    public CompletableFuture<Long> readIndex(boolean linearizable) {
        readIndexesAsked.add(linearizable);
        return readIndex.get();
    }
}
