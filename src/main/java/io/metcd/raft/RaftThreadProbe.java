package io.metcd.raft;

import io.microraft.executor.RaftNodeExecutor;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * Measures how long MicroRaft's Raft thread keeps its tasks waiting: every {@link #PERIOD_MILLIS} ms a probe task is
 * handed to the node's executor, and how late it runs is reported (a thread of its own waits for it, so a stall in
 * progress is reported as it grows). Whatever holds the thread counts: a long task (a snapshot, a full
 * {@code commitC}, a slow msync), a pause of the whole process (a garbage collection), a starved CPU.
 */
final class RaftThreadProbe implements AutoCloseable {
    static final long PERIOD_MILLIS = 10;
    /** How often a stall in progress is reported while it lasts. */
    private static final long REPORT_MILLIS = 100;

    private final RaftNodeExecutor executor;
    private final LongConsumer stalled;
    private final Thread thread;

    /** @param stalled told each lateness measured, in nanoseconds */
    RaftThreadProbe(RaftNodeExecutor executor, LongConsumer stalled, String name) {
        this.executor = executor;
        this.stalled = stalled;
        this.thread = Thread.ofPlatform().daemon().name("raft-probe-" + name).unstarted(this::probe);
    }

    RaftThreadProbe start() {
        thread.start();
        return this;
    }

    private void probe() {
        try {
            while (true) {
                CountDownLatch ran = new CountDownLatch(1);
                long sent = System.nanoTime();
                long[] lateness = new long[1];
                try {
                    executor.execute(() -> {
                        lateness[0] = System.nanoTime() - sent;
                        ran.countDown();
                    });
                } catch (RejectedExecutionException e) {
                    return; // the node terminated
                }
                while (!ran.await(REPORT_MILLIS, TimeUnit.MILLISECONDS)) {
                    stalled.accept(System.nanoTime() - sent);
                }
                stalled.accept(lateness[0]);
                Thread.sleep(PERIOD_MILLIS);
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    @Override
    public void close() {
        thread.interrupt();
    }
}
