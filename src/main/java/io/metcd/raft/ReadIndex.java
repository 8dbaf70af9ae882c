package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.model.PeerMessage;
import io.metcd.model.ProposalRejectedException;
import io.metcd.transport.PeerTransport;
import io.microraft.QueryPolicy;
import io.microraft.RaftNode;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.report.RaftTerm;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Raft's ReadIndex: the index a read must wait for to see every write acknowledged before it started. The leader
 * answers with its commit index once it has confirmed its leadership (a heartbeat round for a linearizable read, see
 * {@link HeartbeatRounds}; its lease otherwise, renewed by a heartbeat round when it has run out, see
 * {@link LeaderLease}); a follower asks the leader.
 * <p>
 * A follower keeps the requests it sent until answered or failed. An answer may never come (the request or the
 * answer lost with a connection, or the leader deposed before it answered), so a request also fails, with a
 * {@link ProposalRejectedException} its client may retry at once, when the follower sees a leader or term other than
 * the one it asked, or loses a connection with the leader it asked.
 */
final class ReadIndex {
    private final Member local;
    private final RaftNode raftNode;
    private final PeerTransport transport;
    private final LeaderLease lease;
    private final HeartbeatRounds rounds;
    private final Map<Long, Asked> asked = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();

    /** A request this follower sent to {@code leader}, known as the leader of {@code term}. */
    private record Asked(Member leader, int term, CompletableFuture<Long> index) {
    }

    ReadIndex(Member local, RaftNodeImpl raftNode, PeerTransport transport, LeaderLease lease) {
        this.local = local;
        this.raftNode = raftNode;
        this.transport = transport;
        this.lease = lease;
        this.rounds = new HeartbeatRounds(raftNode, lease);
    }

    /** As {@link io.metcd.kv.Consensus#readIndex}. */
    CompletableFuture<Long> of(boolean linearizable) {
        RaftTerm now = raftNode.getTerm();
        Member leader = (Member) now.getLeaderEndpoint();
        if (leader == null) {
            return CompletableFuture.failedFuture(new ProposalRejectedException("no leader"));
        } else if (leader.equals(local)) {
            return !linearizable && lease.holds(now.getTerm(), System.nanoTime()) ? query(raftNode, QueryPolicy.LEADER_LEASE)
                    : rounds.confirm();
        }
        long id = nextId.incrementAndGet();
        CompletableFuture<Long> index = new CompletableFuture<>();
        asked.put(id, new Asked(leader, now.getTerm(), index));
        index.whenComplete((i, failure) -> asked.remove(id));
        transport.send(leader, new PeerMessage.ReadIndexRequest(local.id(), id, linearizable));
        // A change of leader reported before the request was registered did not fail it.
        termKnown(raftNode.getTerm());
        return index;
    }

    /**
     * The commit index of {@code raftNode} once MicroRaft confirms, as {@code policy} says, that it still leads; fails
     * with a {@link ProposalRejectedException} otherwise.
     */
    static CompletableFuture<Long> query(RaftNode raftNode, QueryPolicy policy) {
        CompletableFuture<Long> index = new CompletableFuture<>();
        raftNode.query(KvStateMachine.READ_INDEX, policy, Optional.empty(), Optional.empty())
                .whenComplete((ordered, failure) -> {
                    if (failure != null) {
                        index.completeExceptionally(new ProposalRejectedException("leadership not confirmed"));
                    } else {
                        index.complete(ordered.getCommitIndex());
                    }
                });
        return index;
    }

    /** The leader's answer to this follower's request {@code id}: a read index, or a refusal if negative. */
    void answered(long id, long index) {
        Asked waiting = asked.get(id);
        if (waiting == null) {
            return;
        }
        if (index < 0) {
            waiting.index().completeExceptionally(new ProposalRejectedException("leadership not confirmed"));
        } else {
            waiting.index().complete(index);
        }
    }

    /** This node now knows {@code current}'s term and leader: fails the requests asked of another leader or term. */
    void termKnown(RaftTerm current) {
        for (Asked read : asked.values()) {
            if (read.term() != current.getTerm() || !read.leader().equals(current.getLeaderEndpoint())) {
                read.index().completeExceptionally(new ProposalRejectedException("the leader changed"));
            }
        }
    }

    /** Fails the requests asked of member {@code id}: a connection with it was lost, and maybe they were too. */
    void connectionLost(int id) {
        for (Asked read : asked.values()) {
            if (read.leader().id() == id) {
                read.index().completeExceptionally(new ProposalRejectedException("connection to the leader lost"));
            }
        }
    }
}
