package io.metcd.raft;

import io.metcd.kv.WriteOutcomes;
import io.metcd.metrics.RaftMetrics;
import io.metcd.model.Channel;
import io.metcd.model.Member;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.metcd.model.ProposalRejectedException;
import io.metcd.transport.PeerTransport;
import io.microraft.RaftNode;
import io.microraft.exception.CannotReplicateException;
import io.microraft.exception.NotLeaderException;
import io.microraft.report.RaftTerm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;

/**
 * Serves {@code proposeC}: the writes waiting there are grouped into one {@link Operation.Batch} per pass (the group
 * commit), which the leader stamps with its clock and replicates, and a follower forwards to the leader (which stamps
 * it as it proposes it). What becomes of each write goes to the
 * store's {@link WriteOutcomes}; the leader's answers to forwarded writes come back through {@link PeerRequests}.
 */
final class ProposeLoop {
    private static final Logger LOG = LoggerFactory.getLogger(ProposeLoop.class);
    /** Writes per log entry: bounds an entry's size (values are at most 1 MiB each) and the apply pass. */
    private static final int MAX_PROPOSALS_PER_ENTRY = 512;
    private static final int MAX_ENTRY_BYTES = 1 << 20;

    private final Member local;
    private final RaftNode raftNode;
    private final Channel.Receiver<Proposal> proposeC;
    private final PeerTransport transport;
    private final WriteOutcomes outcomes;
    private final RaftMetrics metrics;
    private final Thread thread;

    ProposeLoop(Member local, RaftNode raftNode, Channel.Receiver<Proposal> proposeC, PeerTransport transport,
            WriteOutcomes outcomes, RaftMetrics metrics) {
        this.local = local;
        this.raftNode = raftNode;
        this.proposeC = proposeC;
        this.transport = transport;
        this.outcomes = outcomes;
        this.metrics = metrics;
        this.thread = Thread.ofVirtual().name("propose-" + local.id()).unstarted(this::serve);
    }

    void start() {
        transport.onUndelivered(this::undelivered);
        thread.start();
    }

    /**
     * Writes forwarded in a message that never left this node (the leader could not be dialed, its queue was full)
     * were certainly not committed: they fail as rejected, which their clients' deadline lets them propose again (to
     * the next leader, once one is known) instead of waiting out the deadline for an answer that cannot come.
     */
    private void undelivered(PeerMessage message) {
        if (message instanceof PeerMessage.ForwardedProposals forwarded && forwarded.from() == local.id()) {
            failAll(forwarded.proposals(), new ProposalRejectedException("the leader could not be reached"));
        }
    }

    void stop() {
        thread.interrupt();
    }

    private void serve() {
        List<Proposal> writes = new ArrayList<>(MAX_PROPOSALS_PER_ENTRY);
        try {
            while (true) {
                writes.add(proposeC.take());
                proposeC.drainTo(writes, MAX_PROPOSALS_PER_ENTRY - 1);
                int from = 0;
                int bytes = 0;
                for (int i = 0; i < writes.size(); i++) {
                    bytes += sizeOf(writes.get(i));
                    if (bytes >= MAX_ENTRY_BYTES && i > from) {
                        propose(List.copyOf(writes.subList(from, i)));
                        from = i;
                        bytes = sizeOf(writes.get(i));
                    }
                }
                propose(List.copyOf(writes.subList(from, writes.size())));
                writes.clear();
            }
        } catch (InterruptedException e) {
            LOG.debug("propose loop stopped");
        }
    }

    private static int sizeOf(Proposal p) {
        return p.command().size();
    }

    /** @param proposals owned by this call: the failure path holds on to it after the loop has moved on */
    private void propose(List<Proposal> proposals) {
        RaftTerm term = raftNode.getTerm();
        Member leader = (Member) term.getLeaderEndpoint();
        if (leader == null) {
            failAll(proposals, new ProposalRejectedException("no leader"));
        } else if (leader.equals(local)) {
            metrics.proposed(proposals.size());
            raftNode.replicate(new Operation.Batch(System.currentTimeMillis(), proposals)).whenComplete((result, failure) -> {
                if (failure != null) {
                    failAll(proposals, failureFor(failure));
                }
            });
        } else if (!transport.isReachable(leader)) {
            // Not sent, so certainly not committed: its client may propose it again, to the next leader.
            failAll(proposals, new ProposalRejectedException("the leader (node " + leader.id() + ") cannot be reached"));
        } else {
            metrics.proposed(proposals.size());
            for (Proposal p : proposals) {
                outcomes.forwarded(p.seq(), term.getTerm());
            }
            transport.send(leader, new PeerMessage.ForwardedProposals(local.id(), term.getTerm(), proposals));
        }
    }

    private void failAll(List<Proposal> proposals, Throwable cause) {
        for (Proposal p : proposals) {
            outcomes.failed(p.seq(), cause);
        }
    }

    /** A write that MicroRaft refused before logging it may be retried; anything else has an unknown outcome. */
    static Throwable failureFor(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause()
                : failure;
        if (cause instanceof NotLeaderException) {
            return new ProposalRejectedException("not the leader");
        } else if (cause instanceof CannotReplicateException) {
            return new ProposalRejectedException("too many writes in flight");
        }
        return cause;
    }
}
