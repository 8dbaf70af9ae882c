package io.metcd.http;

import io.metcd.kv.Consensus;
import io.metcd.kv.KVStore;
import io.metcd.kv.ReadLevel;
import io.metcd.kv.WriteOutcomes;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Unavailable;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A store for the HTTP API's tests: a map written at once, unless a test makes it {@link #unavailable}. It records
 * the levels reads ask for. What only consensus calls is not there.
 */
final class FakeStore implements KVStore {
    final Map<String, byte[]> data = new ConcurrentHashMap<>();
    final List<ReadLevel> readLevels = new CopyOnWriteArrayList<>();
    private final AtomicLong index = new AtomicLong();
    /** Why writes and reads are refused, or {@code null}. */
    volatile String unavailable;
    volatile boolean applying = true;

    /** Empty, available and applying again. */
    void reset() {
        data.clear();
        readLevels.clear();
        index.set(0);
        unavailable = null;
        applying = true;
    }

    @Override
    public long put(String key, byte[] value) {
        refuseIfUnavailable();
        data.put(key, value);
        return index.incrementAndGet();
    }

    @Override
    public long delete(String key) {
        refuseIfUnavailable();
        data.remove(key);
        return index.incrementAndGet();
    }

    @Override
    public byte[] read(String key, ReadLevel level) {
        readLevels.add(level);
        refuseIfUnavailable();
        return data.get(key);
    }

    private void refuseIfUnavailable() {
        String reason = unavailable;
        if (reason != null) {
            throw new Unavailable(reason);
        }
    }

    @Override
    public byte[] lookup(String key) {
        return data.get(key);
    }

    @Override
    public boolean applying() {
        return applying;
    }

    @Override
    public long appliedIndex() {
        return index.get();
    }

    @Override
    public String engine() {
        return "fake";
    }

    @Override
    public void close() {
    }

    @Override
    public void start(Consensus consensus) {
        throw new UnsupportedOperationException("the HTTP API does not start the store");
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
}
