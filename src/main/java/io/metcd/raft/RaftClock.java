package io.metcd.raft;

import io.microraft.RaftConfig;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * The clock MicroRaft times with (its followers time their leader's silence with it, its leader its followers'
 * answers), and the one anything that compares against MicroRaft's timestamps must use. It is monotonic: its millis
 * follow {@link System#nanoTime()} from the wall-clock time at which it was made, so a step of the wall clock (NTP, an
 * operator, a resumed VM) can neither make a live leader look silent nor a silent one alive. MicroRaft's initial
 * timestamps of 0 lie far in its past.
 * <p>
 * MicroRaft 0.7 counts its heartbeat period and timeout in whole seconds: it schedules its heartbeat task in seconds
 * on its executor and compares heartbeat timeouts in this clock's millis. So that a second can be a heartbeat period
 * of 100 ms, this clock runs {@link RaftTiming#SPEED_UP} times as fast as real time, and so do the seconds of
 * {@link RaftClockExecutor}: its millis are MicroRaft's, not real ones (nor dates). Whatever turns MicroRaft's time
 * into real time goes through {@link #elapsedSince} and {@link #toRealTime}.
 * <p>
 * While the Raft thread handles a message, its time is the moment the message arrived ({@link #runAsOf}, called by
 * {@link RaftClockExecutor}): MicroRaft stamps the heartbeats a follower hears, and the answers a leader gets, with
 * this clock as it handles them, and a Raft thread that was held would otherwise date them from when it got to them.
 */
public final class RaftClock extends Clock {
    private final long originMillis = System.currentTimeMillis();
    private final long originNanos = System.nanoTime();
    private final int speedUp = RaftTiming.SPEED_UP;
    /**
     * The thread running a task as of {@link #asOfMillis}, or null. Written by that thread only: another thread may
     * read a stale value, but never itself, so it always reads the current time.
     */
    private Thread asOfThread;
    private long asOfMillis;

    @Override
    public long millis() {
        return Thread.currentThread() == asOfThread ? asOfMillis : now();
    }

    private long now() {
        return originMillis + (System.nanoTime() - originNanos) * speedUp / 1_000_000;
    }

    /**
     * Runs {@code task} on this thread with the clock stopped at {@code millis} (a value of {@link #millis()}) for
     * this thread alone.
     */
    void runAsOf(long millis, Runnable task) {
        asOfMillis = millis;
        asOfThread = Thread.currentThread();
        try {
            task.run();
        } finally {
            asOfThread = null;
        }
    }

    @Override
    public Instant instant() {
        return Instant.ofEpochMilli(millis());
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    /** MicroRaft reads only {@link #millis()}: nothing needs this clock in another zone. */
    @Override
    public Clock withZone(ZoneId zone) {
        if (zone.equals(getZone())) {
            return this;
        }
        throw new UnsupportedOperationException("MicroRaft's clock stays in UTC, not " + zone);
    }

    /** The real time since {@code timestamp}, a value of {@link #millis()} (MicroRaft's reports carry such values). */
    public Duration elapsedSince(long timestamp) {
        return toRealTime(Duration.ofMillis(millis() - timestamp));
    }

    /** How long followers on this clock wait for their leader's heartbeats under {@code config}, in real time. */
    Duration heartbeatTimeout(RaftConfig config) {
        return toRealTime(Duration.ofSeconds(config.getLeaderHeartbeatTimeoutSecs()));
    }

    /** How long {@code raftTime}, a duration in MicroRaft's time (its seconds, this clock's millis), lasts really. */
    Duration toRealTime(Duration raftTime) {
        return Duration.ofNanos(toRealNanos(raftTime.toNanos()));
    }

    /**
     * {@link #toRealTime} in nanoseconds, rounded toward zero as {@link Duration#dividedBy(long)} does, without its
     * BigDecimal arithmetic: the leader schedules a task through here for every AppendEntries it sends.
     */
    long toRealNanos(long raftNanos) {
        return raftNanos / speedUp;
    }
}
