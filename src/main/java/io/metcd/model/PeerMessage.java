package io.metcd.model;

import java.util.List;

/**
 * Messages between metcd nodes that are not MicroRaft's own: they carry client work from a follower to
 * the leader. Every one names its sender, so that an answer goes back to the node that asked.
 */
public sealed interface PeerMessage {
    int from();

    /**
     * A follower hands client writes to the leader of {@code term}, which proposes them as its own only if it
     * still leads in that term: so a write forwarded in a term can only ever be logged in that term.
     */
    record ForwardedProposals(int from, int term, List<Operation.Proposal> proposals) implements PeerMessage {
    }

    /** The leader could not propose these writes of {@code from}'s (not leader any more, overloaded...). */
    record ProposalsRejected(int from, long[] seqs, String reason) implements PeerMessage {
    }

    /**
     * The leader committed these forwarded writes in the entry at {@code index} and applied them, with these results
     * (one per sequence number): the follower that forwarded them answers their clients once it has applied that
     * index, whether it applies the entry itself (and finds the same results) or a snapshot past it.
     */
    record ProposalsCommitted(int from, long[] seqs, long index, List<Result> results) implements PeerMessage {
    }

    /** A follower asks the leader for a read index (raft's ReadIndex), for a {@code default} or consistent read. */
    record ReadIndexRequest(int from, long requestId, boolean linearizable) implements PeerMessage {
    }

    /** The leader's answer: reads are safe once the asker has applied {@code index}; {@code index < 0} is a refusal. */
    record ReadIndexResponse(int from, long requestId, long index) implements PeerMessage {
    }

    /** The leader's answer to Raft traffic from a node outside the membership: it was removed, or never added. */
    record NotAMember(int from) implements PeerMessage {
    }
}
