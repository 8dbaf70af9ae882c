package io.metcd.kv;

import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Result;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What the Raft loop tells the store about the writes it took from {@code proposeC}, each named by its sequence
 * number: the store keeps them, and answers their clients. Callable from any thread; a write already answered or
 * given up is ignored.
 */
public interface WriteOutcomes {
    /**
     * The write was sent to the leader of {@code term}, which logs it in that term or not at all: once a later term's
     * first entry is applied here, it is lost, unless a snapshot installed meanwhile may hold it.
     */
    void forwarded(long seq, int term);

    /**
     * The write failed: with a {@link ProposalRejectedException} if it certainly was not committed (it is proposed
     * again while its deadline allows), with anything else if its outcome is unknown.
     */
    void failed(long seq, Throwable cause);

    /**
     * The leader committed these writes in the entry at {@code index} and applied them with these {@code results}
     * (one per sequence number): they are answered once this node has applied that index, whether it applies the
     * entry itself or a snapshot past it.
     */
    void committed(long[] seqs, long index, List<Result> results);

    /**
     * This node, leading, is about to propose writes that node {@code origin} forwarded: completes once this store has
     * applied them (all in one entry), so that the leader can send {@code origin} their results; fails if they are not
     * applied here within the request timeout (not committed, or this node fell behind).
     */
    CompletableFuture<AppliedWrites> forwardedBy(int origin, long[] seqs);

    /** The entry some writes were applied in, and their results in the order they were named. */
    record AppliedWrites(long index, List<Result> results) {
    }
}
