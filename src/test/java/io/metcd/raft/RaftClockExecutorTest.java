package io.metcd.raft;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The order in which the Raft thread runs MicroRaft's timers and its messages: a timer must not judge what the
 * messages that waited behind a stall of the thread would have told it (a follower's check of its leader, run before
 * the heartbeats that arrived while the thread was held, finds the leader silent).
 */
class RaftClockExecutorTest {
    private final RaftClockExecutor executor = new RaftClockExecutor(new RaftClock());
    private final List<String> ran = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        executor.onRaftNodeTerminate();
    }

    @Test
    void aTimerQueuedBeforeAStallRunsAfterTheMessagesThatArrivedDuringIt() throws Exception {
        executor.onRaftNodeStart();
        CountDownLatch busy = hold();
        // The timer comes due while the thread is busy: it is queued as soon as the thread is free, before the stall.
        long due = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        executor.schedule(() -> ran.add("timer"), 20, TimeUnit.MILLISECONDS);
        await().until(() -> System.nanoTime() > due);
        AtomicBoolean stalled = new AtomicBoolean();
        CountDownLatch stall = new CountDownLatch(1);
        executor.execute(() -> {
            stalled.set(true);
            awaitQuietly(stall);
        });
        busy.countDown();
        await().untilTrue(stalled);
        long stallStart = System.nanoTime();
        executor.execute(() -> ran.add("heartbeat 1"));
        executor.execute(() -> ran.add("heartbeat 2"));
        long stallLength = 3 * RaftTiming.HEARTBEAT_PERIOD.toNanos();
        await().until(() -> System.nanoTime() - stallStart > stallLength);
        stall.countDown();

        await().atMost(Duration.ofSeconds(5)).until(() -> ran.size() == 3);
        assertThat(ran).containsExactly("heartbeat 1", "heartbeat 2", "timer");
    }

    @Test
    void aTimerRunsWhenItIsDueWhileTheThreadKeepsUp() {
        executor.onRaftNodeStart();
        long scheduled = System.nanoTime();
        executor.schedule(() -> ran.add("timer after " + (System.nanoTime() - scheduled) / 1_000_000 + " ms"), 1,
                TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> ran.size() == 1);
        // A second of MicroRaft's is a heartbeat period.
        assertThat(ran.getFirst()).matches("timer after (9[0-9]|1[0-9][0-9]) ms");
    }

    /** Holds the Raft thread until the latch returned is counted down. */
    private CountDownLatch hold() {
        CountDownLatch release = new CountDownLatch(1);
        executor.execute(() -> awaitQuietly(release));
        return release;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
