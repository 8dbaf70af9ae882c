package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.PendingWrite;
import io.metcd.model.ProposalRejectedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * The channel side of every {@link KVStore}: proposing onto {@code proposeC}, applying from {@code commitC},
 * answering the clients whose writes were applied, and letting readers wait for an applied index. Engines
 * supply only the storage: {@link #get}, {@link #apply}, {@link #flush}, {@link #snapshot} and
 * {@link #recoverFromSnapshot}.
 * <p>
 * The applier works in passes: it applies what {@code commitC} holds, has the engine {@link #flush} it, and
 * only then publishes the applied index and answers the clients, so that an answered write is visible to
 * every later read on this node. Commits at or below the applied index are skipped: they are what MicroRaft
 * replays after a restart into an engine that already holds them.
 * <p>
 * An applier that fails (anything thrown, an {@link Error} included) stops the node through its {@link FailStop}: a
 * store that stopped applying would otherwise leave the Raft thread waiting on it for ever while the node keeps its
 * vote and serves reads of a frozen state. What waits for the store (writes proposed here, {@link #whenApplied}) fails.
 */
public abstract class AbstractKVStore implements KVStore {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractKVStore.class);
    private static final int MAX_COMMITS_PER_PASS = 256;
    private static final int MAX_APPLIED_WAITERS = 4096;

    private final int localId;
    private final FailStop failStop;
    private final Channel.Sender<PendingWrite> proposeC;
    private final Channel.Receiver<Commit> commitC;
    /** Writes this node proposed, by sequence number, until they are applied or fail. */
    private final Map<Long, CompletableFuture<Long>> pending = new ConcurrentHashMap<>();
    /**
     * Starts at a random point so that, after a restart, replayed entries this node proposed in an earlier
     * life cannot be mistaken for a write a client is waiting for now.
     */
    private final AtomicLong nextSeq = new AtomicLong(ThreadLocalRandom.current().nextLong(1L << 62));
    /** Guards {@link #appliedWaiters} and the advances of {@link #appliedIndex}. */
    private final ReentrantLock appliedLock = new ReentrantLock();
    /** What {@link #whenApplied} handed out, lowest index first. */
    private final PriorityQueue<AppliedWaiter> appliedWaiters =
            new PriorityQueue<>(Comparator.comparingLong(AppliedWaiter::index));
    private volatile long appliedIndex;
    /** Why the applier stopped, once it failed; set under {@link #appliedLock}. */
    private volatile Throwable failure;
    private volatile IntConsumer termStartedListener = term -> {
    };

    /**
     * @param appliedIndex the index the engine's state already reflects: 0 unless it kept state across a restart
     * @param failStop     stops the node if the applier fails
     */
    protected AbstractKVStore(int localId, Channel.Sender<PendingWrite> proposeC, Channel.Receiver<Commit> commitC,
            long appliedIndex, FailStop failStop) {
        this.localId = localId;
        this.failStop = failStop;
        this.proposeC = proposeC;
        this.commitC = commitC;
        this.appliedIndex = appliedIndex;
    }

    /** The engine's value for {@code key}, or {@code null}. Called concurrently with {@link #apply}. */
    protected abstract byte[] get(String key);

    /**
     * Applies committed writes in order; called only from {@link #readCommits()}. An engine may hold them back
     * until {@link #flush}.
     */
    protected abstract void apply(long index, List<Proposal> proposals);

    /**
     * Makes everything applied so far visible to {@link #get} and, in an engine that keeps its state, stores it
     * together with {@code index}, the last index applied. Called only from {@link #readCommits()}.
     */
    protected abstract void flush(long index);

    @Override
    public byte[] lookup(String key) {
        return get(key);
    }

    @Override
    public CompletableFuture<Long> propose(String key, byte[] value) {
        long seq = nextSeq.incrementAndGet();
        CompletableFuture<Long> applied = new CompletableFuture<>();
        pending.put(seq, applied);
        applied.whenComplete((index, failure) -> pending.remove(seq));
        if (!proposeC.offer(new PendingWrite(new Proposal(localId, seq, key, value), applied))) {
            applied.completeExceptionally(new ProposalRejectedException("too many writes in flight"));
        }
        return applied;
    }

    @Override
    public void readCommits() {
        List<Commit> commits = new ArrayList<>(MAX_COMMITS_PER_PASS);
        List<Commit.Apply> unanswered = new ArrayList<>(MAX_COMMITS_PER_PASS);
        try {
            while (true) {
                commits.add(commitC.take());
                commitC.drainTo(commits, MAX_COMMITS_PER_PASS - 1);
                long applied = appliedIndex;
                for (Commit commit : commits) {
                    if (commit.index() <= applied) {
                        if (commit instanceof Commit.Restore r) {
                            LOG.info("the store already holds index {}: not reloading the snapshot at {}", applied,
                                    commit.index());
                            r.done().run();
                        }
                        continue;
                    }
                    switch (commit) {
                        case Commit.Apply a -> {
                            apply(a.index(), a.proposals());
                            unanswered.add(a);
                        }
                        case Commit.Restore r -> {
                            recoverFromSnapshot(r.index(), r.chunks());
                            r.done().run();
                        }
                        case Commit.MembershipChanged ignored -> {
                        }
                        case Commit.TermStarted t -> {
                            // The listener fails forwarded writes not applied yet: settle the ones that were first.
                            settle(applied, unanswered);
                            termStartedListener.accept(t.term());
                        }
                    }
                    applied = commit.index();
                }
                settle(applied, unanswered);
                commits.clear();
            }
        } catch (InterruptedException e) {
            LOG.debug("applier stopped");
        } catch (RuntimeException | Error e) {
            if (interrupted(e)) {
                // Interrupted while writing (a file channel closes when its thread is): the node is stopping.
                LOG.debug("applier stopped while applying", e);
            } else {
                stopApplying(e);
            }
        }
    }

    /** Whether {@code e} comes of the interrupt that stops the applier, whatever wrapped it or cleared the flag. */
    private static boolean interrupted(Throwable e) {
        if (Thread.currentThread().isInterrupted()) {
            return true;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InterruptedException || t instanceof InterruptedIOException
                    || t instanceof ClosedByInterruptException) {
                return true;
            }
        }
        return false;
    }

    /** Stops the node, then fails what waits for this store: nothing it has not applied yet ever will be. */
    private void stopApplying(Throwable cause) {
        List<AppliedWaiter> waiting;
        appliedLock.lock();
        try {
            failure = cause;
            waiting = List.copyOf(appliedWaiters);
            appliedWaiters.clear();
        } finally {
            appliedLock.unlock();
        }
        try {
            failStop.stop("the applier failed after index " + appliedIndex, cause);
        } finally {
            waiting.forEach(w -> w.applied().completeExceptionally(stoppedApplying()));
            pending.values().forEach(p -> p.completeExceptionally(stoppedApplying()));
        }
    }

    private IllegalStateException stoppedApplying() {
        return new IllegalStateException("this node's store stopped applying at index " + appliedIndex, failure);
    }

    /** Flushes what this pass applied up to {@code applied}, publishes it, then answers its clients. */
    private void settle(long applied, List<Commit.Apply> unanswered) {
        if (applied <= appliedIndex) {
            return;
        }
        flush(applied);
        publishApplied(applied);
        for (Commit.Apply a : unanswered) {
            for (Proposal p : a.proposals()) {
                if (p.origin() == localId) {
                    CompletableFuture<Long> waiting = pending.get(p.seq());
                    if (waiting != null) {
                        waiting.complete(a.index());
                    }
                }
            }
        }
        unanswered.clear();
    }

    private record AppliedWaiter(long index, CompletableFuture<Long> applied) {
    }

    private void publishApplied(long index) {
        List<AppliedWaiter> reached = new ArrayList<>();
        appliedLock.lock();
        try {
            appliedIndex = index;
            while (!appliedWaiters.isEmpty() && appliedWaiters.peek().index() <= index) {
                reached.add(appliedWaiters.poll());
            }
        } finally {
            appliedLock.unlock();
        }
        reached.forEach(w -> w.applied().complete(index));
    }

    /** Runs on the applier, in log order, when a new leader's first entry (of that term) is applied. */
    public void onTermStarted(IntConsumer listener) {
        this.termStartedListener = listener;
    }

    @Override
    public long appliedIndex() {
        return appliedIndex;
    }

    /**
     * Completes, with the applied index, once this store has applied {@code index}; fails if the applier failed
     * first. A waiter that gave up may fail the future; it is dropped when the index is reached, or sooner once many
     * have piled up behind a stalled store.
     */
    public CompletableFuture<Long> whenApplied(long index) {
        long applied = appliedIndex;
        if (applied >= index) {
            return CompletableFuture.completedFuture(applied);
        }
        CompletableFuture<Long> waiter = new CompletableFuture<>();
        appliedLock.lock();
        try {
            applied = appliedIndex;
            if (applied >= index) {
                return CompletableFuture.completedFuture(applied);
            }
            if (failure != null) {
                return CompletableFuture.failedFuture(stoppedApplying());
            }
            if (appliedWaiters.size() >= MAX_APPLIED_WAITERS) {
                appliedWaiters.removeIf(w -> w.applied().isDone());
            }
            appliedWaiters.add(new AppliedWaiter(index, waiter));
        } finally {
            appliedLock.unlock();
        }
        return waiter;
    }

    @Override
    public void close() {
        pending.values().forEach(f -> f.completeExceptionally(new ProposalRejectedException("node is shutting down")));
    }
}
