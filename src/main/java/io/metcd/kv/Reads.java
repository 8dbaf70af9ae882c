package io.metcd.kv;

import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Unavailable;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.LongFunction;

/** What a read waits for, by {@link ReadLevel}, before it looks the key up in the store. */
final class Reads {
    private final Deadlines deadlines;
    private final LongFunction<CompletableFuture<Long>> whenApplied;
    private volatile Consensus consensus;
    /**
     * A restarted node rebuilds its state from the WAL only as the leader tells it what is committed; until
     * it has caught up with the leader once, even a stale read could see a state older than before the restart.
     */
    private volatile boolean caughtUp;

    /**
     * @param restarted   whether the node came back from existing data, so stale reads must wait for a catch-up
     * @param whenApplied the store's {@link KVStore#whenApplied}
     */
    Reads(boolean restarted, Deadlines deadlines, LongFunction<CompletableFuture<Long>> whenApplied) {
        this.caughtUp = !restarted;
        this.deadlines = deadlines;
        this.whenApplied = whenApplied;
    }

    void serveThrough(Consensus consensus) {
        this.consensus = consensus;
    }

    /** Returns once a read at {@code level} may look at this node's applied state. */
    void await(ReadLevel level) throws InterruptedException {
        switch (level) {
            case STALE -> {
                if (!caughtUp) {
                    awaitReadIndex(false);
                    caughtUp = true;
                }
            }
            case DEFAULT -> awaitReadIndex(false);
            case CONSISTENT -> awaitReadIndex(true);
        }
    }

    /** Waits until this node has applied everything the leader had committed when the read arrived. */
    private void awaitReadIndex(boolean linearizable) throws InterruptedException {
        long deadline = deadlines.start();
        while (true) {
            deadlines.awaitLeader(consensus, deadline);
            try {
                long index = deadlines.await(consensus.readIndex(linearizable), deadline);
                try {
                    deadlines.await(whenApplied.apply(index), deadline);
                } catch (TimeoutException e) {
                    throw new Unavailable("this node is behind the leader; try again");
                }
                return;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ProposalRejectedException rejected) {
                    deadlines.backOff(deadline, rejected.getMessage());
                } else {
                    throw new Unavailable("leader did not confirm the read in time");
                }
            } catch (TimeoutException e) {
                throw new Unavailable("leader did not confirm the read in time");
            }
        }
    }
}
