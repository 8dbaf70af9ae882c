package io.metcd.kv;

import io.metcd.model.Unavailable;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The deadlines of client requests, and the waits within them. What a request waits for is failed once its deadline
 * has passed, from one thread that looks every {@link #TICK_MILLIS}: the request's virtual thread then waits without a
 * timeout. On JDK 25 every timed wait of a virtual thread schedules, and mostly cancels, a timer task in the carrier
 * pool, which cost the leader about a seventh of its CPU under load. Deadlines are kept to within a tick.
 */
final class Deadlines implements AutoCloseable {
    static final long TICK_MILLIS = 50;
    /** How long a request waits before it asks again after a refusal that asking again may overcome. */
    private static final Duration RETRY_BACKOFF = Duration.ofMillis(50);

    private record Wait(CompletableFuture<?> result, long deadline) {
    }

    private volatile Duration timeout;
    private final Set<Wait> waits = ConcurrentHashMap.newKeySet();
    private final Thread sweeper;

    /** @param timeout how long a request has, from {@link #start()} */
    Deadlines(String name, Duration timeout) {
        this.timeout = timeout;
        // A platform thread: its sleep is the kernel's, not a task of the virtual threads' scheduler.
        sweeper = Thread.ofPlatform().daemon().name(name).start(this::sweep);
    }

    /** How long the requests that start from now on have; those under way keep their deadlines. */
    void timeout(Duration timeout) {
        this.timeout = timeout;
    }

    /** The deadline of a request that starts now, in {@link System#nanoTime()}. */
    long start() {
        return System.nanoTime() + timeout.toNanos();
    }

    /**
     * Blocks until {@code result} completes, which it does with a {@link TimeoutException} at the deadline; failing it
     * also makes whoever keeps it let go of it.
     */
    <T> T await(CompletableFuture<T> result, long deadline)
            throws InterruptedException, ExecutionException, TimeoutException {
        expire(result, deadline);
        try {
            return result.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException timedOut) {
                throw timedOut;
            }
            throw e;
        }
    }

    /** Fails {@code result} with a {@link TimeoutException} at {@code deadline} unless it completed before. */
    void expire(CompletableFuture<?> result, long deadline) {
        waits.add(new Wait(result, deadline));
    }

    /** Waits for a leader until the deadline. */
    void awaitLeader(Consensus consensus, long deadline) throws InterruptedException {
        if (!consensus.awaitLeader(Duration.ofNanos(remaining(deadline)))) {
            throw new Unavailable("no leader");
        }
    }

    /**
     * Waits a moment before the request asks again.
     *
     * @throws Unavailable with {@code reason} if the deadline comes first
     */
    void backOff(long deadline, String reason) throws InterruptedException {
        if (remaining(deadline) <= RETRY_BACKOFF.toNanos()) {
            throw new Unavailable(reason);
        }
        Thread.sleep(RETRY_BACKOFF);
    }

    private static long remaining(long deadline) {
        return Math.max(0, deadline - System.nanoTime());
    }

    private void sweep() {
        try {
            while (true) {
                TimeUnit.MILLISECONDS.sleep(TICK_MILLIS);
                long now = System.nanoTime();
                waits.removeIf(w -> w.result().isDone()
                        || now - w.deadline() >= 0 && w.result().completeExceptionally(new TimeoutException()));
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    @Override
    public void close() {
        sweeper.interrupt();
    }
}
