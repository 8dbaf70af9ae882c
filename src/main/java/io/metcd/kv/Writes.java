package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Command;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;

import java.util.ArrayList;
import java.util.Arrays;
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
 * allows; one whose outcome is unknown is not. Its answer is the {@link Result} of applying it, found here or, when
 * this node reached the write by a snapshot, sent by the leader.
 * <p>
 * On the leader it also keeps the writes other nodes forwarded until they are applied here, for their results.
 */
final class Writes implements WriteOutcomes, AutoCloseable {
    private final int localId;
    private final Channel.Sender<Proposal> proposeC;
    private final Deadlines deadlines;
    private final LongFunction<CompletableFuture<Long>> whenApplied;
    private final Map<Long, InFlight> inFlight = new ConcurrentHashMap<>();
    /** Writes forwarded by other nodes that this leader proposed, until applied here. */
    private final Map<Forwarded, Taken> taken = new ConcurrentHashMap<>();
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
        final CompletableFuture<Result> applied = new CompletableFuture<>();
        /** The term of the leader it was forwarded to, 0 while it was not. */
        volatile int forwardedIn;
        /** How many snapshots had been installed here when it was forwarded. */
        volatile long snapshotsWhenForwarded;
    }

    /** A write another node forwarded. */
    private record Forwarded(int origin, long seq) {
    }

    /** Writes of one forwarded batch, whose results fill in as the applier applies them (on its thread only). */
    private static final class Taken {
        final CompletableFuture<AppliedWrites> done = new CompletableFuture<>();
        final long[] seqs;
        final Result[] results;
        int missing;

        Taken(long[] seqs) {
            this.seqs = seqs;
            this.results = new Result[seqs.length];
            this.missing = seqs.length;
        }

        void applied(long seq, long index, Result result) {
            for (int i = 0; i < seqs.length; i++) {
                if (seqs[i] == seq && results[i] == null) {
                    results[i] = result;
                    if (--missing == 0) {
                        done.complete(new AppliedWrites(index, Arrays.asList(results)));
                    }
                    return;
                }
            }
        }
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

    /** As {@link KVStore#write}. */
    Result write(Command command) throws InterruptedException {
        long deadline = deadlines.start();
        while (true) {
            if (closed) {
                throw new Unavailable("node is shutting down");
            }
            deadlines.awaitLeader(consensus, deadline);
            try {
                return deadlines.await(propose(command), deadline);
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
     * @return completed with the write's result once it is applied here; failed with
     *         {@link ProposalRejectedException} when it certainly was not committed, or with another exception when
     *         the outcome is unknown
     */
    CompletableFuture<Result> propose(Command command) {
        long seq = nextSeq.incrementAndGet();
        InFlight write = new InFlight();
        inFlight.put(seq, write);
        write.applied.whenComplete((index, failure) -> inFlight.remove(seq));
        if (!proposeC.offer(new Proposal(localId, seq, command))) {
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
    public void committed(long[] seqs, long index, List<Result> results) {
        // Usually here after this node applied the entry itself, with the same results: either answer may come first.
        List<Runnable> answers = new ArrayList<>(seqs.length);
        for (int i = 0; i < seqs.length; i++) {
            InFlight write = inFlight.get(seqs[i]);
            if (write != null) {
                Result result = results.get(i);
                answers.add(() -> write.applied.complete(result));
            }
        }
        if (!answers.isEmpty()) {
            whenApplied.apply(index).thenRun(() -> answers.forEach(Runnable::run));
        }
    }

    @Override
    public CompletableFuture<AppliedWrites> forwardedBy(int origin, long[] seqs) {
        Taken batch = new Taken(seqs);
        for (long seq : seqs) {
            taken.put(new Forwarded(origin, seq), batch);
        }
        batch.done.whenComplete((applied, failure) -> {
            for (long seq : seqs) {
                taken.remove(new Forwarded(origin, seq), batch);
            }
        });
        deadlines.expire(batch.done, deadlines.start());
        return batch.done;
    }

    // ---------------------------------------------------------------------------------- from the applier

    /**
     * Answers the client of {@code p} if it is this node's, or completes the forwarded batch this leader took it in;
     * called once the write is visible to every later read here.
     */
    void applied(Proposal p, long index, Result result) {
        if (p.origin() == localId) {
            InFlight write = inFlight.get(p.seq());
            if (write != null) {
                write.applied.complete(result);
            }
        } else if (!taken.isEmpty()) {
            Taken batch = taken.get(new Forwarded(p.origin(), p.seq()));
            if (batch != null) {
                batch.applied(p.seq(), index, result);
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
