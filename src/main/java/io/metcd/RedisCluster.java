package io.metcd;

import io.metcd.kv.KVStore;
import io.metcd.raft.ClusterAdmin;
import io.metcd.resp.Outcome;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The node and its cluster as Redis's {@code INFO}, {@code JOIN}, {@code LEAVE} and {@code SNAPSHOT} see them
 * ({@link io.metcd.resp.ClusterAdmin}). A membership change is the HTTP request it stands for, made to this node's
 * own client API: the very same checks, hand-over and forwarding to the leader, and its status becomes the outcome.
 */
final class RedisCluster implements io.metcd.resp.ClusterAdmin {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** A membership change waits for its commit up to three request timeouts, its forwarding to the leader four. */
    private static final Duration CHANGE_TIMEOUT = KVStore.REQUEST_TIMEOUT.multipliedBy(5);

    private final ClusterAdmin cluster;
    private final KVStore store;
    private final String clientUrl;

    /** @param clientUrl where this node serves its HTTP API */
    RedisCluster(ClusterAdmin cluster, KVStore store, String clientUrl) {
        this.cluster = cluster;
        this.store = store;
        this.clientUrl = clientUrl;
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
        return change("POST", id, peerUrl);
    }

    @Override
    public CompletableFuture<Outcome<Void>> removeMember(int id) {
        return change("DELETE", id, "");
    }

    @Override
    public CompletableFuture<Outcome<Long>> snapshot() {
        return RedisKeyspace.async(() -> Outcome.done(cluster.takeSnapshot()));
    }

    /** {@code method /-/members/{id}} on this node's HTTP API: 2xx done, 503 unavailable, any other status refused. */
    private CompletableFuture<Outcome<Void>> change(String method, int id, String body) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(clientUrl + "/-/members/" + id))
                .timeout(CHANGE_TIMEOUT).method(method, HttpRequest.BodyPublishers.ofString(body)).build();
        return RedisKeyspace.async(() -> {
            try {
                HttpResponse<String> answer = HTTP.send(request,
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
                String reason = answer.body().strip();
                if (answer.statusCode() / 100 == 2) {
                    return Outcome.done(null);
                }
                return answer.statusCode() == 503 ? Outcome.unavailable(reason)
                        : Outcome.refused(Outcome.Refusal.INVALID, reason);
            } catch (IOException e) {
                return Outcome.unavailable("this node's HTTP API did not answer: " + e.getMessage());
            }
        });
    }
}
