package io.metcd.http;

import io.metcd.kv.ChangeListener;
import io.metcd.kv.Consensus;
import io.metcd.kv.KVStore;
import io.metcd.kv.ReadLevel;
import io.metcd.kv.WriteOutcomes;
import io.metcd.model.Command;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;
import io.metcd.testkit.InstantStore;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A store for the HTTP API's tests: a real in-memory store committing every write at once ({@link InstantStore}),
 * unless a test makes it {@link #unavailable}. It records the levels reads ask for. What only consensus calls is not
 * there.
 */
final class FakeStore implements KVStore {
    final List<ReadLevel> readLevels = new CopyOnWriteArrayList<>();
    private volatile InstantStore instant = new InstantStore();
    /** Why writes and reads are refused, or {@code null}. */
    volatile String unavailable;
    volatile boolean applying = true;
    /** What the last {@link #requestTimeout} call set, or {@code null}. */
    volatile Duration requestTimeout;
    private volatile ChangeListener listener = ChangeListener.NONE;

    /** Empty, available and applying again. */
    void reset() {
        instant.close();
        instant = new InstantStore();
        instant.store.listen(listener);
        readLevels.clear();
        unavailable = null;
        applying = true;
        requestTimeout = null;
    }

    @Override
    public Result write(Command command) throws InterruptedException {
        refuseIfUnavailable();
        return instant.store.write(command);
    }

    @Override
    public Values read(List<String> keys, ReadLevel level) throws InterruptedException {
        readLevels.add(level);
        refuseIfUnavailable();
        return instant.store.read(keys, level);
    }

    @Override
    public Page range(String prefix, String after, int limit, ReadLevel level) throws InterruptedException {
        readLevels.add(level);
        refuseIfUnavailable();
        return instant.store.range(prefix, after, limit, level);
    }

    @Override
    public Count count(ReadLevel level) throws InterruptedException {
        readLevels.add(level);
        refuseIfUnavailable();
        return instant.store.count(level);
    }

    private void refuseIfUnavailable() {
        String reason = unavailable;
        if (reason != null) {
            throw new Unavailable(reason);
        }
    }

    /** Every key held, in order. */
    List<String> keys() {
        try {
            return instant.store.range("", null, Integer.MAX_VALUE, ReadLevel.STALE).keys().stream()
                    .map(Keyed::key).toList();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public byte[] lookup(String key) {
        return instant.store.lookup(key);
    }

    @Override
    public boolean applying() {
        return applying;
    }

    @Override
    public long appliedIndex() {
        return instant.store.appliedIndex();
    }

    @Override
    public String engine() {
        return "fake";
    }

    @Override
    public void close() {
        instant.close();
    }

    @Override
    public void start(Consensus consensus) {
        throw new UnsupportedOperationException("the HTTP API does not start the store");
    }

    @Override
    public void requestTimeout(Duration timeout) {
        instant.store.requestTimeout(timeout);
        requestTimeout = timeout;
    }

    @Override
    public CompletableFuture<Long> whenApplied(long index) {
        throw new UnsupportedOperationException("only consensus waits for an index");
    }

    @Override
    public long emptySnapshotBytes() {
        throw new UnsupportedOperationException("only consensus snapshots the store");
    }

    @Override
    public long snapshotGrowthBound(List<Proposal> writes) {
        throw new UnsupportedOperationException("only consensus snapshots the store");
    }

    @Override
    public WriteOutcomes writeOutcomes() {
        throw new UnsupportedOperationException("only consensus reports write outcomes");
    }

    @Override
    public void reportStoreTimes(LongConsumer observer) {
        throw new UnsupportedOperationException("the HTTP layer reports no store times");
    }

    /** Has the store under it tell {@code listener}, and the next one after each {@link #reset}. */
    @Override
    public void listen(ChangeListener listener) {
        this.listener = listener;
        instant.store.listen(listener);
    }
}
