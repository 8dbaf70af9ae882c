package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Unavailable;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongFunction;

/**
 * The client writes of this node, from proposal to answer: the one owner of a write's life. A write is proposed on
 * {@code proposeC} under a new sequence number and kept, by that number, until the applier applies it here (or the
 * leader says it committed it and this node has applied that index), until the Raft loop says it failed, or until
 * its deadline. A write that certainly did not commit is proposed again, under a new number, while the deadline
 * allows; one whose outcome is unknown is not.
 */
final class Writes implements WriteOutcomes, AutoCloseable {
    private final int localId;
    private final Channel.Sender<Proposal> proposeC;
    private final Deadlines deadlines;
    private final LongFunction<CompletableFuture<Long>> whenApplied;
    private final Map<Long, InFlight> inFlight = new ConcurrentHashMap<>();
    /**
     * Starts at a random point so that, after a restart, replayed entries this node proposed in an earlier
     * life cannot be mistaken for a write a client is waiting for now.
     */
    private final AtomicLong nextSeq = new AtomicLong(ThreadLocalRandom.current().nextLong(1L << 62));
    /** Snapshots the applier has installed; only the applier writes it. */
    private volatile long snapshotsInstalled;
    private volatile Consensus consensus;
    private volatile boolean closed;

    /** A write waiting for its answer. */
    private static final class InFlight {
        final CompletableFuture<Long> applied = new CompletableFuture<>();
        /** The term of the leader it was forwarded to, 0 while it was not. */
        volatile int forwardedIn;
        /** How many snapshots had been installed here when it was forwarded. */
        volatile long snapshotsWhenForwarded;
    }

    /** @param whenApplied the store's {@link KVStore#whenApplied} */
    Writes(int localId, Channel.Sender<Proposal> proposeC, Deadlines deadlines,
            LongFunction<CompletableFuture<Long>> whenApplied) {
        this.localId = localId;
        this.proposeC = proposeC;
        this.deadlines = deadlines;
        this.whenApplied = whenApplied;
    }

    void serveThrough(Consensus consensus) {
        this.consensus = consensus;
    }

    /** As {@link KVStore#put}, {@code value} {@code null} for a delete. */
    long write(String key, byte[] value) throws InterruptedException {
        long deadline = deadlines.start();
        while (true) {
            if (closed) {
                throw new Unavailable("node is shutting down");
            }
            deadlines.awaitLeader(consensus, deadline);
            try {
                return deadlines.await(propose(key, value), deadline);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ProposalRejectedException rejected) {
                    deadlines.backOff(deadline, rejected.getMessage());
                } else {
                    throw new Unavailable("write outcome unknown: " + e.getCause().getMessage());
                }
            } catch (TimeoutException e) {
                throw new Unavailable("write not committed in time; it may still be applied");
            }
        }
    }

    /**
     * One attempt: hands the write to the Raft loop under a new sequence number.
     *
     * @return completed with the log index once the write is applied here; failed with
     *         {@link ProposalRejectedException} when it certainly was not committed, or with another exception when
     *         the outcome is unknown
     */
    CompletableFuture<Long> propose(String key, byte[] value) {
        long seq = nextSeq.incrementAndGet();
        InFlight write = new InFlight();
        inFlight.put(seq, write);
        write.applied.whenComplete((index, failure) -> inFlight.remove(seq));
        if (!proposeC.offer(new Proposal(localId, seq, key, value))) {
            write.applied.completeExceptionally(new ProposalRejectedException("too many writes in flight"));
        }
        return write.applied;
    }

    // ------------------------------------------------------------------------------- from the Raft loop

    @Override
    public void forwarded(long seq, int term) {
        InFlight write = inFlight.get(seq);
        if (write != null) {
            write.snapshotsWhenForwarded = snapshotsInstalled;
            write.forwardedIn = term;
        }
    }

    @Override
    public void failed(long seq, Throwable cause) {
        InFlight write = inFlight.get(seq);
        if (write != null) {
            write.applied.completeExceptionally(cause);
        }
    }

    @Override
    public void committed(long[] seqs, long index) {
        // Usually here before this node applies the entry: then either way of answering them may come first.
        List<CompletableFuture<Long>> waiting = new ArrayList<>(seqs.length);
        for (long seq : seqs) {
            InFlight write = inFlight.get(seq);
            if (write != null) {
                waiting.add(write.applied);
            }
        }
        if (!waiting.isEmpty()) {
            whenApplied.apply(index).thenRun(() -> waiting.forEach(w -> w.complete(index)));
        }
    }

    // ---------------------------------------------------------------------------------- from the applier

    /** Answers the client of {@code p} if it is this node's, once the write is visible to every later read here. */
    void applied(Proposal p, long index) {
        if (p.origin() == localId) {
            InFlight write = inFlight.get(p.seq());
            if (write != null) {
                write.applied.complete(index);
            }
        }
    }

    /**
     * The applier reached a snapshot (installed, or already held): entries it covers are not applied one by one, so
     * a write forwarded before it may be in it unseen.
     */
    void snapshotInstalled() {
        snapshotsInstalled++;
    }

    /**
     * A new leader's first entry, of {@code term}, is applied: a write forwarded in an earlier term could only have
     * been logged in that term, so if it is not applied by now it never will be, and its client can retry at once
     * instead of waiting for a timeout. Unless a snapshot was installed since it was forwarded: the write may be in
     * it, and proposing it again could undo a later write.
     */
    void termStarted(int term) {
        ProposalRejectedException lost = new ProposalRejectedException("leader changed before the write committed");
        long installed = snapshotsInstalled;
        for (InFlight write : inFlight.values()) {
            int forwardedIn = write.forwardedIn;
            if (forwardedIn != 0 && forwardedIn < term && write.snapshotsWhenForwarded == installed) {
                write.applied.completeExceptionally(lost);
            }
        }
    }

    /** Fails every write waiting with {@code cause}: the store will apply nothing more. */
    void failAll(Throwable cause) {
        inFlight.values().forEach(w -> w.applied.completeExceptionally(cause));
    }

    @Override
    public void close() {
        closed = true;
        failAll(new ProposalRejectedException("node is shutting down"));
    }
}
