package io.metcd.raft;

import io.microraft.executor.RaftNodeExecutor;
import io.microraft.executor.impl.DefaultRaftNodeExecutor;
import io.microraft.impl.handler.AbstractMessageHandler;
import io.microraft.impl.task.LeaderBackoffResetTask;
import io.microraft.lifecycle.RaftNodeLifecycleAware;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * MicroRaft's Raft thread (its default executor) on {@link RaftClock}'s time, which runs {@link RaftTiming#SPEED_UP}
 * times as fast as real time:
 * <ul>
 * <li>a delay MicroRaft gives in seconds is in that clock's seconds: the heartbeat period, and what MicroRaft times by
 * it (retries of a leadership transfer and of snapshot-chunk requests, its reports);</li>
 * <li>so is the leader's back-off from a follower that has not answered its last append (no append, heartbeats
 * included, goes to that follower meanwhile). MicroRaft sizes it in heartbeat seconds, one to two, but counts it in
 * real 250 ms ticks: at real speed a follower whose append or answer was lost (a reconnection, a node started again)
 * would hear nothing for 1-2 s, longer than the heartbeat timeout, and give its leader up;</li>
 * <li>the election timeouts, which MicroRaft gives in milliseconds, stay real: a failed election is tried again after
 * that time, with up to 100 ms more at random to tell two candidates apart;</li>
 * <li>a task handed over without a delay (most of MicroRaft's, and {@link RaftThreadProbe}'s) is queued as on the
 * default executor, so how late it runs, the stall the probe reports, is real time;</li>
 * <li>a task given a delay is queued when the delay is over, behind what waits there then; and if it then waited in
 * the queue longer than {@link #STALL} (the thread was held: a full {@code commitC}, a long collection), it is queued
 * again, behind what arrived meanwhile, up to {@link #MAX_REQUEUES} times. The default executor orders a task by when
 * it is due, so a timer that came due while the Raft thread was held ran before the messages that arrived after that
 * moment and waited with it; and one queued just before the thread was held ran before the messages that arrived
 * during the hold. Either way a follower's check of its leader found the last heartbeat it had read older than the
 * heartbeat timeout, with newer ones waiting behind the check, and it gave a live leader up and pre-voted. A timer
 * run so is at most {@link #STALL} late on what the messages say, a tenth of the heartbeat timeout, unless the thread
 * stalled at each of its {@link #MAX_REQUEUES} turns.</li>
 * <li>a message is handled on {@link RaftClock}'s time of its arrival (when its handling was handed to the thread): the
 * heartbeat timeout a follower judges its leader by, and the leader stickiness with which it refuses pre-votes and
 * votes, run from when the leader's last heartbeat arrived, not from when the thread got to it. A follower held
 * while its leader died (a node just started, its applier loading a snapshot while {@code commitC} is full) otherwise
 * refused every pre-vote for a heartbeat timeout after the hold, and without its vote the two nodes left elected no
 * one meanwhile. This is sound for {@link LeaderLease}: a message arrives after it was sent, so a follower still
 * votes for no one else for a heartbeat timeout after hearing a heartbeat sent after the leader's round began; and a
 * leader dates its followers' answers no later than before, so it steps down no later.</li>
 * </ul>
 */
final class RaftClockExecutor implements RaftNodeExecutor, RaftNodeLifecycleAware {
    /** How long a due timer may wait in the queue before it is queued again, behind what arrived meanwhile. */
    static final Duration STALL = RaftTiming.HEARTBEAT_PERIOD;
    /**
     * How many times a due timer is queued again at most: a thread that stalls at every turn still runs its timers,
     * after that many turns (each one a stall of {@link #STALL} at least).
     */
    static final int MAX_REQUEUES = 10;
    private static final long STALL_NANOS = STALL.toNanos();

    private final DefaultRaftNodeExecutor raftThread = new DefaultRaftNodeExecutor();
    private final RaftClock clock;

    /**
     * The handling of a message that metcd's own code hands over rather than MicroRaft ({@link SnapshotBoundaryFix}'s
     * append requests): it runs on the time of the message's arrival, as MicroRaft's message handlers do.
     */
    @FunctionalInterface
    interface MessageHandling extends Runnable {
    }

    RaftClockExecutor(RaftClock clock) {
        this.clock = clock;
    }

    @Override
    public void execute(Runnable task) {
        if (task instanceof AbstractMessageHandler<?> || task instanceof MessageHandling) {
            long arrived = clock.millis();
            raftThread.execute(() -> clock.runAsOf(arrived, task));
        } else {
            raftThread.execute(task);
        }
    }

    @Override
    public void submit(Runnable task) {
        raftThread.submit(task);
    }

    @Override
    public void schedule(Runnable task, long delay, TimeUnit timeUnit) {
        Runnable queueWhenDue = () -> queueBehindWaiting(task, 0);
        if (timeUnit == TimeUnit.SECONDS || task instanceof LeaderBackoffResetTask) {
            raftThread.schedule(queueWhenDue, clock.toRealNanos(timeUnit.toNanos(delay)), TimeUnit.NANOSECONDS);
        } else {
            raftThread.schedule(queueWhenDue, delay, timeUnit);
        }
    }

    /** Queues a due timer, again if it waited there through a stall of the thread: see the class's comment. */
    private void queueBehindWaiting(Runnable task, int requeues) {
        long queued = System.nanoTime();
        raftThread.execute(() -> {
            if (System.nanoTime() - queued > STALL_NANOS && requeues < MAX_REQUEUES) {
                queueBehindWaiting(task, requeues + 1);
            } else {
                task.run();
            }
        });
    }

    @Override
    public void onRaftNodeStart() {
        raftThread.onRaftNodeStart();
    }

    @Override
    public void onRaftNodeTerminate() {
        raftThread.onRaftNodeTerminate();
    }
}
