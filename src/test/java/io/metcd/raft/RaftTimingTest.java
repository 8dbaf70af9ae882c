package io.metcd.raft;

import io.microraft.RaftConfig;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * MicroRaft's time runs ten times as fast as real time (RaftClock, RaftClockExecutor), so that its whole seconds give
 * etcd's timing; what is measured in real time (the lease, the Raft thread's stalls) must follow it.
 */
class RaftTimingTest {
    private final RaftClock clock = new RaftClock();
    private final RaftConfig config = RaftTiming.configure(RaftConfig.newBuilder()).build();
    private final RaftClockExecutor executor = new RaftClockExecutor(clock);

    @AfterEach
    void stopTheRaftThread() {
        executor.onRaftNodeTerminate();
    }

    @Test
    void followersGiveTheirLeaderUpAfterASecondOfSilenceAsEtcdsDo() {
        assertThat(clock.heartbeatTimeout(config)).isEqualTo(RaftTiming.HEARTBEAT_TIMEOUT)
                .isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void theLeaseEndsTheDriftMarginBeforeTheFollowersGiveTheirLeaderUp() {
        long timeoutNanos = clock.heartbeatTimeout(config).toNanos();
        long leaseNanos = (long) (timeoutNanos * (1 - LeaderLease.DRIFT_MARGIN));
        LeaderLease lease = LeaderLease.following(clock.heartbeatTimeout(config));
        long asked = System.nanoTime();
        lease.confirmedBy(1, asked);

        assertThat(leaseNanos).isLessThan(timeoutNanos);
        assertThat(lease.holds(1, asked + leaseNanos - 1)).isTrue();
        assertThat(lease.holds(1, asked + leaseNanos)).isFalse();
    }

    @Test
    void microRaftsMillisecondsRunTenTimesAsFastAsRealOnes() throws InterruptedException {
        long realStart = System.nanoTime();
        long raftStart = clock.millis();
        Thread.sleep(100);
        long raftMillis = clock.millis() - raftStart;
        long realMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - realStart);

        assertThat(raftMillis).isBetween(100L * RaftTiming.SPEED_UP - 1, (realMillis + 1) * RaftTiming.SPEED_UP);
    }

    /** MicroRaft's reports date heartbeats in its millis: a second of them ago is a tenth of a real one. */
    @Test
    void aTimestampOfMicroRaftsIsTurnedIntoRealTime() {
        long aRaftSecondAgo = clock.millis() - 1000;

        assertThat(clock.elapsedSince(aRaftSecondAgo)).isBetween(Duration.ofMillis(1000 / RaftTiming.SPEED_UP),
                Duration.ofMillis(1000 / RaftTiming.SPEED_UP + 50));
    }

    /** MicroRaft schedules its heartbeats every {@code leaderHeartbeatPeriodSecs} seconds: of its time. */
    @Test
    void aDelayInSecondsIsInMicroRaftsTime() {
        Duration ran = runAfter(config.getLeaderHeartbeatPeriodSecs(), TimeUnit.SECONDS);

        assertThat(ran).isGreaterThanOrEqualTo(RaftTiming.HEARTBEAT_PERIOD).isLessThan(Duration.ofSeconds(1));
    }

    /** MicroRaft's election timeout is given in milliseconds, and meant as real ones (RaftTiming). */
    @Test
    void aDelayInMillisecondsIsReal() {
        Duration ran = runAfter(config.getLeaderElectionTimeoutMillis(), TimeUnit.MILLISECONDS);

        assertThat(ran).isGreaterThanOrEqualTo(Duration.ofMillis(config.getLeaderElectionTimeoutMillis()));
    }

    /** The stall metric is in real seconds: the probe's own tasks are not put on MicroRaft's time. */
    @Test
    void theStallProbeMeasuresARaftThreadStallInRealTime() throws InterruptedException {
        AtomicLong longestNanos = new AtomicLong();
        CountDownLatch release = new CountDownLatch(1);
        try (RaftThreadProbe probe = new RaftThreadProbe(executor, n -> longestNanos.accumulateAndGet(n, Math::max),
                "test").start()) {
            long stalledFrom = System.nanoTime();
            executor.execute(() -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            await().atMost(Duration.ofSeconds(5)).until(() -> longestNanos.get() >= TimeUnit.MILLISECONDS.toNanos(300));
            release.countDown();
            CompletableFuture<Void> caughtUp = new CompletableFuture<>();
            executor.execute(() -> caughtUp.complete(null));
            caughtUp.orTimeout(5, TimeUnit.SECONDS).join();
            long stalledNanos = System.nanoTime() - stalledFrom;

            assertThat(longestNanos.get()).isLessThanOrEqualTo(stalledNanos + TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    private Duration runAfter(long delay, TimeUnit unit) {
        CompletableFuture<Long> ranAt = new CompletableFuture<>();
        long scheduledAt = System.nanoTime();
        executor.schedule(() -> ranAt.complete(System.nanoTime()), delay, unit);
        return Duration.ofNanos(ranAt.orTimeout(10, TimeUnit.SECONDS).join() - scheduledAt);
    }
}
