package io.metcd.raft;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Whether this leader may answer a {@code default} read under its lease: only for a heartbeat timeout, less a margin
 * for clock drift, after the moment it asked for a heartbeat round (a MicroRaft LINEARIZABLE query) that a majority
 * then answered.
 * <p>
 * MicroRaft 0.7's own lease (LEADER_LEASE) is not enough: it dates a follower's answer from when the Raft thread
 * handles it, not from when the heartbeat it answers was sent. Answers that waited in the Raft thread's queue while the
 * leader was stopped (SIGSTOP, a long GC or disk sync) renew that lease when the leader goes on, though its followers,
 * hearing nothing meanwhile, may have elected another leader that has committed writes since: the resumed leader then
 * serves its old state for up to a lease ({@code LeaderLeaseTest}). A round asked for at moment t is answered only
 * by followers that heard from this leader after t, and each of them votes for no one else for a heartbeat timeout
 * after that, so a lease that runs from t is sound. A round also confirms only once an entry of the leader's term is
 * committed, which LEADER_LEASE does not check: a newly elected leader's commit index may still lag behind writes its
 * predecessor acknowledged.
 * <p>
 * {@link HeartbeatRounds} runs one round at a time, so a round's answers are never ones sent before it was asked.
 * <p>
 * A leadership transfer breaks that promise: the target starts an election at once and the others vote for it without
 * waiting for this leader's heartbeats to time out, while this leader may hear of it late (a slow link). So the lease
 * ends for good in the term in which a transfer starts, before MicroRaft is asked for it; a round of that term cannot
 * renew it, even when the transfer fails (a request to start an election may still be on its way). Reads then go
 * through heartbeat rounds until this node leads a later term.
 */
final class LeaderLease {
    /**
     * How much shorter a lease is than the heartbeat timeout it rests on. The followers time that timeout with their
     * own clocks: one that runs fast ends its promise early in the leader's time. Quartz clocks, and NTP slewing them,
     * differ in rate by well under 0.1%; a tenth also covers a leader whose time is read a little late.
     */
    static final double DRIFT_MARGIN = 0.1;
    private final long durationNanos;
    /** The latest term in which a leadership transfer started; leaders' terms start at 1. */
    private final AtomicInteger handedOverIn = new AtomicInteger();
    private volatile Confirmed confirmed;

    /** Leadership in {@code term} confirmed by a round asked for at {@code atNanos}. */
    private record Confirmed(int term, long atNanos) {
    }

    LeaderLease(Duration duration) {
        this.durationNanos = duration.toNanos();
    }

    /** The lease of a leader whose followers vote for no one else for {@code heartbeatTimeout} after they heard it. */
    static LeaderLease following(Duration heartbeatTimeout) {
        return new LeaderLease(Duration.ofNanos((long) (heartbeatTimeout.toNanos() * (1 - DRIFT_MARGIN))));
    }

    /** Whether a read asked for at {@code nowNanos} (System.nanoTime) in {@code term} may be served under the lease. */
    boolean holds(int term, long nowNanos) {
        Confirmed c = confirmed;
        return c != null && c.term() == term && term > handedOverIn.get() && nowNanos - c.atNanos() < durationNanos;
    }

    /** Ends the lease of {@code term} for good; call before asking MicroRaft to transfer the leadership of that term. */
    void endForHandOver(int term) {
        handedOverIn.accumulateAndGet(term, Math::max);
    }

    /**
     * A heartbeat round confirmed this node's leadership: it was asked for at {@code askedNanos} (System.nanoTime, read
     * before MicroRaft was asked), when this node knew {@code term} as its latest.
     */
    void confirmedBy(int term, long askedNanos) {
        confirmed = new Confirmed(term, askedNanos);
    }
}
