package io.metcd.raft;

import io.metcd.kv.WriteOutcomes;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.metcd.model.ProposalRejectedException;
import io.metcd.transport.PeerTransport;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.RaftMessage;
import io.microraft.report.RaftTerm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Everything the transport receives, handed on from its reader threads: Raft's messages to MicroRaft, and metcd's own
 * ({@link PeerMessage}): writes and read-index requests a follower sends the leader on its clients' behalf, the
 * leader's answers, and the leader telling a node outside the membership so.
 */
final class PeerRequests {
    private static final Logger LOG = LoggerFactory.getLogger(PeerRequests.class);
    /** The previous values (up to 1 MiB each) one answer to forwarded writes carries at most, about. */
    private static final long MAX_RESULT_BYTES = 16 << 20;

    private final Member local;
    private final RaftNode raftNode;
    private final SnapshotBoundaryFix snapshotBoundaryFix;
    private final StaleResponseFix staleResponseFix;
    private final PeerTransport transport;
    private final ReadIndex readIndex;
    private final WriteOutcomes outcomes;
    private final BooleanSupplier leads;
    private final Runnable removed;
    /** When this leader last told a non-member so, by member id: once a second is enough. */
    private final Map<Integer, Long> toldNotAMember = new ConcurrentHashMap<>();

    /**
     * @param leads   whether this node leads, as of its latest Raft report
     * @param removed run when the leader says this node is not a member
     */
    PeerRequests(Member local, RaftNode raftNode, SnapshotBoundaryFix snapshotBoundaryFix,
            StaleResponseFix staleResponseFix, PeerTransport transport, ReadIndex readIndex, WriteOutcomes outcomes,
            BooleanSupplier leads, Runnable removed) {
        this.local = local;
        this.raftNode = raftNode;
        this.snapshotBoundaryFix = snapshotBoundaryFix;
        this.staleResponseFix = staleResponseFix;
        this.transport = transport;
        this.readIndex = readIndex;
        this.outcomes = outcomes;
        this.leads = leads;
        this.removed = removed;
    }

    /** Called on the transport's reader threads, so it only hands work on. */
    void receive(Object message) {
        switch (message) {
            case RaftMessage m when isNonMember(m.getSender()) -> tellNotAMember((Member) m.getSender());
            case AppendEntriesRequest m -> snapshotBoundaryFix.handle(m);
            case RaftMessage m when StaleResponseFix.answersALeader(m) -> staleResponseFix.handle(m);
            case RaftMessage m -> raftNode.handle(m);
            case PeerMessage.NotAMember m -> {
                LOG.error("leader {} says this node (member {}) is not in the cluster: it was removed, or never "
                        + "added (POST /-/members/{} first); stopping", m.from(), local.id(), local.id());
                removed.run();
            }
            case PeerMessage.ForwardedProposals m -> proposeForwarded(m);
            case PeerMessage.ProposalsRejected m -> {
                ProposalRejectedException rejection = new ProposalRejectedException(m.reason());
                for (long seq : m.seqs()) {
                    outcomes.failed(seq, rejection);
                }
            }
            case PeerMessage.ProposalsCommitted m -> outcomes.committed(m.seqs(), m.index(), m.results());
            case PeerMessage.ReadIndexRequest m -> readIndex.of(m.linearizable()).whenComplete(
                    (index, failure) -> reply(m.from(), new PeerMessage.ReadIndexResponse(local.id(), m.requestId(),
                            failure == null ? index : -1)));
            case PeerMessage.ReadIndexResponse m -> readIndex.answered(m.requestId(), m.index());
            default -> LOG.warn("dropping unexpected message {}", message);
        }
    }

    /** Only the leader judges: a follower's view of the membership may lag behind a change. */
    private boolean isNonMember(RaftEndpoint sender) {
        return leads.getAsBoolean() && !raftNode.getEffectiveMembers().getMembers().contains(sender);
    }

    private void tellNotAMember(Member sender) {
        long now = System.nanoTime();
        Long last = toldNotAMember.get(sender.id());
        if (last == null || now - last > TimeUnit.SECONDS.toNanos(1)) {
            toldNotAMember.put(sender.id(), now);
            LOG.warn("{} is not a member: telling it to stop", sender);
            transport.send(sender, new PeerMessage.NotAMember(local.id()));
        }
    }

    private void proposeForwarded(PeerMessage.ForwardedProposals m) {
        // Raft tasks run in order, so a leader that still leads in the sender's term when this check runs
        // logs the batch in that term, or not at all.
        RaftTerm term = raftNode.getTerm();
        if (!local.equals(term.getLeaderEndpoint()) || term.getTerm() != m.term()) {
            rejectForwarded(m, "not the leader of term " + m.term());
            return;
        }
        // The results are the store's, once it has applied the batch here: asked for first, so none is missed.
        long[] seqs = seqs(m);
        CompletableFuture<WriteOutcomes.AppliedWrites> applied = outcomes.forwardedBy(m.from(), seqs);
        applied.thenAccept(a -> answerForwarded(m.from(), seqs, a));
        raftNode.replicate(new Operation.Batch(System.currentTimeMillis(), m.proposals()))
                .whenComplete((result, failure) -> {
                    if (failure != null) {
                        applied.cancel(false);
                        if (ProposeLoop.failureFor(failure) instanceof ProposalRejectedException rejection) {
                            rejectForwarded(m, rejection.getMessage());
                        }
                    }
                });
    }

    /** Sends the results in messages of at most about {@link #MAX_RESULT_BYTES} of previous values each. */
    private void answerForwarded(int origin, long[] seqs, WriteOutcomes.AppliedWrites applied) {
        int from = 0;
        long bytes = 0;
        for (int i = 0; i < seqs.length; i++) {
            byte[] previous = applied.results().get(i).previous();
            bytes += previous == null ? 0 : previous.length;
            if (bytes >= MAX_RESULT_BYTES || i == seqs.length - 1) {
                reply(origin, new PeerMessage.ProposalsCommitted(local.id(), Arrays.copyOfRange(seqs, from, i + 1),
                        applied.index(), applied.results().subList(from, i + 1)));
                from = i + 1;
                bytes = 0;
            }
        }
    }

    private void rejectForwarded(PeerMessage.ForwardedProposals m, String reason) {
        reply(m.from(), new PeerMessage.ProposalsRejected(local.id(), seqs(m), reason));
    }

    private static long[] seqs(PeerMessage.ForwardedProposals m) {
        return m.proposals().stream().mapToLong(Operation.Proposal::seq).toArray();
    }

    private void reply(int memberId, PeerMessage message) {
        Member to = member(raftNode, memberId);
        if (to != null) {
            transport.send(to, message);
        }
    }

    /** The member with this id in the latest membership {@code raftNode} knows, or {@code null}. */
    static Member member(RaftNode raftNode, int id) {
        for (RaftEndpoint e : raftNode.getEffectiveMembers().getMembers()) {
            if (e instanceof Member m && m.id() == id) {
                return m;
            }
        }
        return null;
    }
}
