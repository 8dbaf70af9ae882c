package io.metcd.raft;

import io.metcd.model.ProposalRejectedException;
import io.microraft.QueryPolicy;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.state.LeaderState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A leader's heartbeat rounds (MicroRaft LINEARIZABLE queries), one at a time: a read asked while a round is in flight
 * waits for the next one, which starts when that round ends and serves every read asked meanwhile, as etcd batches
 * its ReadIndex requests.
 * <p>
 * Why not join the round in flight, as MicroRaft 0.7 lets a query do: some of that round's answers may have been sent
 * before the read was asked, so they do not prove that this node still led when it was. A leader stopped while a round
 * was in flight (SIGSTOP, a long pause) finds those answers waiting when it goes on, together with the reads clients
 * sent meanwhile; the others may have elected a successor and committed writes in between, and a read confirmed by
 * the old answers would miss them ({@code ReadIndexRoundsTest}). A round asked for after the read was is answered only
 * by heartbeats sent after that, and in the rest of MicroRaft's query path a round only ever collects answers to its
 * own heartbeats, because this node asks for no other query meanwhile.
 * <p>
 * But for one gap, closed here: a round can fail inside MicroRaft once MicroRaft has registered its query, as it
 * starts the round's heartbeats (a chaos run met one: an empty slot in the leader's log, {@link
 * SnapshotTruncationFix}). MicroRaft 0.7 fails the read and keeps the query, and the next query joins it as if that
 * round were in flight, to be confirmed by heartbeats MicroRaft sent for it before that query was asked. So a round
 * after one that failed first fails, on the Raft thread, whatever query MicroRaft still holds: between rounds it holds
 * none otherwise. (A round after one that succeeded needs no such step: MicroRaft clears its queries as it answers
 * them.)
 */
final class HeartbeatRounds {
    private static final Logger LOG = LoggerFactory.getLogger(HeartbeatRounds.class);
    private final RaftNodeImpl raftNode;
    private final LeaderLease lease;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by {@link #lock}: whether a round is in flight. */
    private boolean inFlight;
    /** Guarded by {@link #lock}: the reads waiting for the round after the one in flight; null if none. */
    private CompletableFuture<Long> next;
    /** Whether the last round failed: it may have left its query inside MicroRaft. Set before the next round starts. */
    private volatile boolean lastFailed;

    HeartbeatRounds(RaftNodeImpl raftNode, LeaderLease lease) {
        this.raftNode = raftNode;
        this.lease = lease;
    }

    /**
     * This leader's commit index once a round asked for after this call has confirmed its leadership; fails with a
     * {@link ProposalRejectedException} if it is not confirmed (this node no longer leads).
     */
    CompletableFuture<Long> confirm() {
        lock.lock();
        try {
            if (inFlight) {
                if (next == null) {
                    next = new CompletableFuture<>();
                }
                return next;
            }
            inFlight = true;
        } finally {
            lock.unlock();
        }
        CompletableFuture<Long> round = new CompletableFuture<>();
        start(round);
        return round;
    }

    private void start(CompletableFuture<Long> round) {
        int term = raftNode.getTerm().getTerm();
        long askedAt = System.nanoTime();
        if (lastFailed) {
            lastFailed = false;
            forgetFailedRound();
        }
        ReadIndex.query(raftNode, QueryPolicy.LINEARIZABLE).whenComplete((index, failure) -> {
            if (failure == null) {
                lease.confirmedBy(term, askedAt);
            } else {
                lastFailed = true;
            }
            startNext();
            if (failure == null) {
                round.complete(index);
            } else {
                round.completeExceptionally(failure);
            }
        });
    }

    /**
     * Fails the query MicroRaft kept from a round that failed inside it, if any, before the next round's query: the
     * Raft thread runs its tasks in the order they were handed to it.
     */
    private void forgetFailedRound() {
        try {
            raftNode.getExecutor().execute(() -> {
                LeaderState leading = raftNode.state().leaderState();
                if (leading != null && leading.queryState().queryCount() > 0) {
                    LOG.warn("{} a heartbeat round failed inside MicroRaft and left its query; failing it",
                            raftNode.localEndpointStr());
                    leading.queryState().fail(new IllegalStateException("a heartbeat round that failed"));
                }
            });
        } catch (RejectedExecutionException e) {
            // The node has terminated: the round's query fails too.
        }
    }

    /** The round in flight has ended: the reads asked meanwhile get theirs. */
    private void startNext() {
        CompletableFuture<Long> waiting;
        lock.lock();
        try {
            waiting = next;
            next = null;
            inFlight = waiting != null;
        } finally {
            lock.unlock();
        }
        if (waiting != null) {
            start(waiting);
        }
    }
}
