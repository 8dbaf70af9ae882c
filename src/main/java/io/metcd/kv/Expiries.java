package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The leader's expiry loop: every {@link #PERIOD} the node that leads reads which keys are due by its clock and
 * proposes their deletion as one {@link Command.ExpireDue}, in batches of at most {@link #MAX_KEYS_PER_COMMAND}, one
 * at a time. It runs on every node and does nothing while the node does not lead, so that whoever leads, a new leader
 * after a failover included, expires what is due. The delete is decided where it is applied, in the log's time, and
 * only for keys unchanged since they were seen due: a node's own clock never deletes anything.
 */
final class Expiries implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Expiries.class);
    static final Duration PERIOD = Duration.ofMillis(250);
    static final int MAX_KEYS_PER_COMMAND = 1000;

    private final BiFunction<Long, Integer, List<Command.Due>> due;
    private final Writes writes;
    private final Thread loop;
    private volatile Consensus consensus;

    /** @param due the keys due at a time (ms since the epoch), at most so many, with the revision each is due at */
    Expiries(int localId, BiFunction<Long, Integer, List<Command.Due>> due, Writes writes) {
        this.due = due;
        this.writes = writes;
        this.loop = Thread.ofVirtual().name("expiries-" + localId).unstarted(this::run);
    }

    void serveThrough(Consensus consensus) {
        this.consensus = consensus;
        loop.start();
    }

    private void run() {
        try {
            while (true) {
                Thread.sleep(PERIOD);
                if (!consensus.leads()) {
                    continue;
                }
                List<Command.Due> keys;
                do {
                    keys = due.apply(System.currentTimeMillis(), MAX_KEYS_PER_COMMAND);
                } while (!keys.isEmpty() && expired(keys) && consensus.leads());
            }
        } catch (InterruptedException e) {
            LOG.debug("expiry loop stopped");
        }
    }

    /**
     * Proposes the expiry of {@code keys}; returns whether it deleted any, so that more may be due at once. None
     * deleted means the command reached a leader whose clock is behind this one's (leadership moved), and whoever
     * leads will expire them in its own time.
     */
    private boolean expired(List<Command.Due> keys) throws InterruptedException {
        try {
            return writes.write(new Command.ExpireDue(keys)) instanceof Result.Applied a && a.number() > 0;
        } catch (Unavailable e) {
            // Leadership lost, or no quorum: whoever leads next proposes them again.
            LOG.debug("expiring {} keys: {}", keys.size(), e.getMessage());
            return false;
        }
    }

    @Override
    public void close() {
        loop.interrupt();
    }
}
