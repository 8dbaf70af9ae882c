package io.metcd.resp;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The node and its cluster as the Redis commands {@code INFO}, {@code JOIN}, {@code LEAVE} and {@code SNAPSHOT} see
 * them: the cluster API of the HTTP interface ({@code /-/status}, {@code /-/members}, {@code /-/snapshot}).
 * <p>
 * Contract: as {@link Keyspace}'s. Calls are made on a network event loop and never block it; every future completes
 * normally within the node's request deadline, changes with an {@link Outcome} ({@link Outcome.Unavailable} when no
 * leader or commit came in time, {@link Outcome.Refusal#INVALID} with a one-line reason for a change that cannot be
 * made). Any node takes any change: a follower hands it to the leader.
 */
public interface ClusterAdmin {

    /**
     * What this node knows of itself and its cluster, now.
     *
     * @param role     this node's Raft role, in lower case: leader, follower, candidate, learner...
     * @param leaderId the leader this node knows, or 0 for none
     */
    record Status(int nodeId, String role, long term, int leaderId, List<Member> members, String engine,
            long appliedIndex) {
    }

    /**
     * A member as this node sees it.
     *
     * @param clientUrl where it serves clients, {@code null} while unknown
     * @param role      leader, follower or learner
     */
    record Member(int id, String peerUrl, String clientUrl, String role) {
    }

    /** This node's status; never fails. */
    CompletableFuture<Status> status();

    /** Adds member {@code id} at {@code peerUrl} (as {@code POST /-/members/{id}}); it then starts with --join. */
    CompletableFuture<Outcome<Void>> addMember(int id, String peerUrl);

    /** Removes member {@code id} (as {@code DELETE /-/members/{id}}). */
    CompletableFuture<Outcome<Void>> removeMember(int id);

    /** Takes a snapshot on this node now (as {@code POST /-/snapshot}); done with its log index. */
    CompletableFuture<Outcome<Long>> snapshot();
}
