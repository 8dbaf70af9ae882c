package io.metcd.raft;

import io.microraft.executor.RaftNodeExecutor;
import io.microraft.executor.impl.DefaultRaftNodeExecutor;
import io.microraft.impl.task.LeaderBackoffResetTask;
import io.microraft.lifecycle.RaftNodeLifecycleAware;

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
 * <li>a task given a delay is queued when the delay is over, behind what waits there then. The default executor
 * orders a task by when it is due, so a timer that came due while the Raft thread was held (a full {@code commitC},
 * a long collection) ran before the messages that arrived after that moment and waited with it: a follower's check
 * of its leader found the last heartbeat it had read older than the heartbeat timeout, with newer ones waiting behind
 * the check, and it gave a live leader up and pre-voted.</li>
 * </ul>
 */
final class RaftClockExecutor implements RaftNodeExecutor, RaftNodeLifecycleAware {
    private final DefaultRaftNodeExecutor raftThread = new DefaultRaftNodeExecutor();
    private final RaftClock clock;

    RaftClockExecutor(RaftClock clock) {
        this.clock = clock;
    }

    @Override
    public void execute(Runnable task) {
        raftThread.execute(task);
    }

    @Override
    public void submit(Runnable task) {
        raftThread.submit(task);
    }

    @Override
    public void schedule(Runnable task, long delay, TimeUnit timeUnit) {
        Runnable queueWhenDue = () -> raftThread.execute(task);
        if (timeUnit == TimeUnit.SECONDS || task instanceof LeaderBackoffResetTask) {
            raftThread.schedule(queueWhenDue, clock.toRealNanos(timeUnit.toNanos(delay)), TimeUnit.NANOSECONDS);
        } else {
            raftThread.schedule(queueWhenDue, delay, timeUnit);
        }
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
