package io.metcd.model;

import java.util.concurrent.CompletableFuture;

/**
 * What travels on {@code proposeC}: a client write and the future that answers the client. The store
 * completes it when it applies the write; the Raft loop fails it when the write cannot be proposed.
 */
public record PendingWrite(Operation.Proposal proposal, CompletableFuture<Long> applied) {
}
