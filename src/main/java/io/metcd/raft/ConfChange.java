package io.metcd.raft;

import io.metcd.model.Member;

import java.util.concurrent.CompletableFuture;

/**
 * What travels on {@code confChangeC}: one membership change for {@link MembershipChanges} to check and propose.
 * {@code done} completes with the log index of the change once it is committed, or fails with a
 * {@link MembershipException} saying why it was refused or not committed.
 */
public sealed interface ConfChange {
    CompletableFuture<Long> done();

    /** A new member, added as a learner (the cluster API). */
    record AddLearner(Member member, CompletableFuture<Long> done) implements ConfChange {
    }

    /** A learner whose log has caught up, made a voter (the leader's own check). */
    record Promote(Member learner, CompletableFuture<Long> done) implements ConfChange {
    }

    /** Member {@code id}, removed (the cluster API). */
    record Remove(int id, CompletableFuture<Long> done) implements ConfChange {
    }
}
