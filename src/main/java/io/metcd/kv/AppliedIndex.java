package io.metcd.kv;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The index a store has applied, and what waits for an index: reads waiting for their read index, the Raft thread
 * waiting for a snapshot's index, writes the leader says it committed. Only the applier advances it.
 */
final class AppliedIndex {
    private static final int MAX_WAITERS = 4096;

    /** Guards {@link #waiters}, {@link #failure} and the advances of {@link #index}. */
    private final ReentrantLock lock = new ReentrantLock();
    /** What {@link #when} handed out, lowest index first. */
    private final PriorityQueue<Waiter> waiters = new PriorityQueue<>(Comparator.comparingLong(Waiter::index));
    private volatile long index;
    /** Why the applier stopped, once it failed. */
    private volatile Throwable failure;

    private record Waiter(long index, CompletableFuture<Long> applied) {
    }

    /** @param index the index the engine's state already reflects: 0 unless it kept state across a restart */
    AppliedIndex(long index) {
        this.index = index;
    }

    long get() {
        return index;
    }

    /** As {@link KVStore#whenApplied}. */
    CompletableFuture<Long> when(long wanted) {
        long applied = index;
        if (applied >= wanted) {
            return CompletableFuture.completedFuture(applied);
        }
        CompletableFuture<Long> waiter = new CompletableFuture<>();
        lock.lock();
        try {
            applied = index;
            if (applied >= wanted) {
                return CompletableFuture.completedFuture(applied);
            }
            if (failure != null) {
                return CompletableFuture.failedFuture(stopped());
            }
            if (waiters.size() >= MAX_WAITERS) {
                waiters.removeIf(w -> w.applied().isDone());
            }
            waiters.add(new Waiter(wanted, waiter));
        } finally {
            lock.unlock();
        }
        return waiter;
    }

    /** The applier has applied everything up to {@code applied}, and made it visible to reads. */
    void advance(long applied) {
        List<Waiter> reached = new ArrayList<>();
        lock.lock();
        try {
            index = applied;
            while (!waiters.isEmpty() && waiters.peek().index() <= applied) {
                reached.add(waiters.poll());
            }
        } finally {
            lock.unlock();
        }
        reached.forEach(w -> w.applied().complete(applied));
    }

    /** The applier failed: fails what waits, and every later {@link #when} that it cannot answer at once. */
    void fail(Throwable cause) {
        List<Waiter> waiting;
        lock.lock();
        try {
            failure = cause;
            waiting = List.copyOf(waiters);
            waiters.clear();
        } finally {
            lock.unlock();
        }
        waiting.forEach(w -> w.applied().completeExceptionally(stopped()));
    }

    /** What a wait for an index the store will never reach fails with. */
    IllegalStateException stopped() {
        return new IllegalStateException("this node's store stopped applying at index " + index, failure);
    }
}
