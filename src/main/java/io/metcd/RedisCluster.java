package io.metcd;

import io.metcd.kv.KVStore;
import io.metcd.raft.ClusterAdmin;
import io.metcd.raft.MembershipRequests;
import io.metcd.resp.Outcome;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The node and its cluster as Redis's {@code INFO}, {@code JOIN}, {@code LEAVE} and {@code SNAPSHOT} see them
 * ({@link io.metcd.resp.ClusterAdmin}). A membership change goes through the {@link MembershipRequests} that serve the
 * HTTP API's {@code /-/members/{id}}: the same checks, hand-over and forwarding to the leader, and its outcome in
 * Redis's terms.
 */
final class RedisCluster implements io.metcd.resp.ClusterAdmin {
    private final ClusterAdmin cluster;
    private final MembershipRequests membership;
    private final KVStore store;

    RedisCluster(ClusterAdmin cluster, KVStore store) {
        this.cluster = cluster;
        this.membership = new MembershipRequests(cluster);
        this.store = store;
    }

    @Override
    public CompletableFuture<Status> status() {
        ClusterAdmin.Status raft = cluster.status();
        List<Member> members = cluster.members().stream()
                .map(m -> new Member(m.id(), m.peerUrl(), m.clientUrl(), m.role())).toList();
        return CompletableFuture.completedFuture(new Status(raft.id(), raft.role(), raft.term(),
                raft.leaderId() == null ? 0 : raft.leaderId(), members, store.engine(), store.appliedIndex()));
    }

    @Override
    public CompletableFuture<Outcome<Void>> addMember(int id, String peerUrl) {
        return RedisKeyspace.async(() -> outcome(membership.add(Integer.toString(id), peerUrl)));
    }

    @Override
    public CompletableFuture<Outcome<Void>> removeMember(int id) {
        return RedisKeyspace.async(() -> outcome(membership.remove(Integer.toString(id))));
    }

    @Override
    public CompletableFuture<Outcome<Long>> snapshot() {
        return RedisKeyspace.async(() -> Outcome.done(cluster.takeSnapshot()));
    }

    /** A change not made for want of a leader or a commit in time may be tried again (TRYAGAIN); any other is ERR. */
    private static Outcome<Void> outcome(MembershipRequests.Outcome change) {
        return switch (change) {
            case MembershipRequests.Done done -> Outcome.done(null);
            case MembershipRequests.NotDone notDone -> switch (notDone.reason()) {
                case BAD_REQUEST, NOT_FOUND, CONFLICT -> Outcome.refused(Outcome.Refusal.INVALID, notDone.message());
                case NOT_LEADER, UNAVAILABLE -> Outcome.unavailable(notDone.message());
            };
        };
    }
}
