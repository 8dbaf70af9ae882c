package io.metcd.raft;

import io.microraft.RaftConfig;

import java.time.Duration;

/**
 * How fast a metcd node notices a dead leader, and everything that follows from it. etcd's timing: a leader
 * heartbeats every 100 ms and its followers give it up after about a second of silence.
 * <p>
 * MicroRaft 0.7 counts its heartbeat period and timeout in whole seconds. Here its time runs {@link #SPEED_UP} times
 * as fast as real time ({@link RaftClock}, {@link RaftClockExecutor}), so one of its seconds, the heartbeat period,
 * lasts 100 ms; its election timeout, counted in milliseconds, is real time.
 * <p>
 * Why these figures, on a 2-core machine shared by three nodes: a follower gives its leader up only after a silence
 * longer than the leader's Raft thread ever stalls (a GC pause, a disk sync, a snapshot taken on that thread), or every
 * such stall costs an election; and a leader steps down itself when it has heard from no majority for as long. The
 * figures measured are in README (Benchmark).
 */
public final class RaftTiming {
    /** How many of MicroRaft's seconds pass in one real second. */
    static final int SPEED_UP = 10;
    /** How often a leader sends its followers a heartbeat: one of MicroRaft's seconds. */
    public static final Duration HEARTBEAT_PERIOD = Duration.ofSeconds(1).dividedBy(SPEED_UP);
    /** MicroRaft's leader heartbeat timeout, in heartbeat periods. */
    private static final int HEARTBEAT_TIMEOUT_PERIODS = 10;
    /**
     * How long a follower waits for its leader's heartbeats before it asks for votes (and a leader for a majority's
     * answers before it steps down): also how long a follower refuses to vote for anyone else after it last heard
     * from its leader, which is what {@link LeaderLease} builds on.
     */
    public static final Duration HEARTBEAT_TIMEOUT = HEARTBEAT_PERIOD.multipliedBy(HEARTBEAT_TIMEOUT_PERIODS);
    /**
     * How long a (pre-)candidate waits for votes before it tries again, real time; MicroRaft adds up to 100 ms at
     * random. Only an election that failed waits it out: two followers that asked for votes at once (a split vote), or
     * a pre-vote refused by a follower that heard from the dead leader a moment later.
     */
    private static final Duration ELECTION_TIMEOUT = Duration.ofMillis(300);
    /** How often a node publishes its report (the leader the metrics see, the role): MicroRaft's seconds. */
    private static final int REPORT_PERIOD_SECS = 5 * SPEED_UP;

    private RaftTiming() {
    }

    /** {@code builder} with this timing, in MicroRaft's units. */
    public static RaftConfig.RaftConfigBuilder configure(RaftConfig.RaftConfigBuilder builder) {
        return builder.setLeaderHeartbeatPeriodSecs(1).setLeaderHeartbeatTimeoutSecs(HEARTBEAT_TIMEOUT_PERIODS)
                .setLeaderElectionTimeoutMillis(ELECTION_TIMEOUT.toMillis())
                .setRaftNodeReportPublishPeriodSecs(REPORT_PERIOD_SECS);
    }
}
