package io.metcd.http;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Fails what requests wait for once their deadline has passed, from one thread that looks every
 * {@link #TICK_MILLIS}. A request's virtual thread then waits without a timeout: on JDK 25 every timed wait of a
 * virtual thread schedules, and mostly cancels, a timer task in the carrier pool, which cost the leader about a
 * seventh of its CPU under load. Deadlines are kept to within a tick.
 */
final class RequestTimeouts implements AutoCloseable {
    static final long TICK_MILLIS = 50;

    private record Wait(CompletableFuture<?> result, long deadline) {
    }

    private final Set<Wait> waits = ConcurrentHashMap.newKeySet();
    private final Thread sweeper;

    RequestTimeouts(String name) {
        // A platform thread: its sleep is the kernel's, not a task of the virtual threads' scheduler.
        sweeper = Thread.ofPlatform().daemon().name(name).start(this::sweep);
    }

    /** Fails {@code result} with a {@link TimeoutException} if it is not complete at {@code deadline} (nanoTime). */
    void failAt(CompletableFuture<?> result, long deadline) {
        waits.add(new Wait(result, deadline));
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
