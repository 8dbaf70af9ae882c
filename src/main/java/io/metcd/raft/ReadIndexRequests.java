package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.model.ProposalRejectedException;
import io.microraft.report.RaftTerm;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The read-index requests a follower sent to its leader, until answered or failed. An answer may never come (the
 * request or the answer lost with a connection, or the leader deposed before it answered), so a request also fails,
 * with a {@link ProposalRejectedException} its client may retry at once, when the follower sees a leader or term other
 * than the one it asked, or loses a connection with the leader it asked.
 */
final class ReadIndexRequests {
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();

    private record Pending(Member leader, int term, CompletableFuture<Long> index) {
    }

    /** A request registered: {@code index} completes with the leader's answer. */
    record Asked(long id, CompletableFuture<Long> index) {
    }

    /** Registers a request about to be sent to {@code leader}, known as the leader of {@code term}. */
    Asked ask(Member leader, int term) {
        long id = nextId.incrementAndGet();
        CompletableFuture<Long> index = new CompletableFuture<>();
        pending.put(id, new Pending(leader, term, index));
        index.whenComplete((i, failure) -> pending.remove(id));
        return new Asked(id, index);
    }

    /** The leader's answer to request {@code id}: a read index, or a refusal if negative. */
    void answered(long id, long index) {
        Pending waiting = pending.get(id);
        if (waiting == null) {
            return;
        }
        if (index < 0) {
            waiting.index().completeExceptionally(new ProposalRejectedException("leadership not confirmed"));
        } else {
            waiting.index().complete(index);
        }
    }

    /** Fails the requests asked of another leader, or in another term, than {@code current}'s. */
    void failNotAskedIn(RaftTerm current) {
        for (Pending read : pending.values()) {
            if (read.term() != current.getTerm() || !read.leader().equals(current.getLeaderEndpoint())) {
                read.index().completeExceptionally(new ProposalRejectedException("the leader changed"));
            }
        }
    }

    /** Fails the requests asked of member {@code id}: a connection with it was lost, and maybe they were too. */
    void failAskedOf(int id) {
        for (Pending read : pending.values()) {
            if (read.leader().id() == id) {
                read.index().completeExceptionally(new ProposalRejectedException("connection to the leader lost"));
            }
        }
    }
}
