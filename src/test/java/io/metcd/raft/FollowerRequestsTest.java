package io.metcd.raft;

import io.metcd.model.PeerMessage;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.transport.NetworkFaults;
import io.microraft.RaftRole;
import io.microraft.model.message.AppendEntriesRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What a follower asks the leader on its clients' behalf (a read index, a write to propose) must come to an answer
 * the client can act on, whatever becomes of the messages: a request lost on its way is asked again of the next
 * leader; a write that reached the follower inside a snapshot, not as an entry, is acknowledged with the result the
 * leader found, and not retried.
 */
class FollowerRequestsTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    /** Few entries kept behind a snapshot (a tenth of this), so that a follower left behind gets a snapshot. */
    private static final int SNAPSHOT_COUNT = 100;

    @TempDir
    Path dir;

    @Test
    void aReadIndexRequestLostOnItsWayToTheLeaderIsAskedOfTheNextLeader() {
        try (TestCluster cluster = new TestCluster(dir, 3, SNAPSHOT_COUNT).start()) {
            Roles roles = Roles.of(cluster);
            assertThat(cluster.client(roles.leader).put("k", "v").status()).isEqualTo(204);
            partition(cluster, roles.follower, roles.leader);
            // The next leader: the transfer picks the follower furthest ahead.
            assertThat(cluster.client(roles.leader).put("k2", "v2").status()).isEqualTo(204);

            long dropped = cluster.node(roles.follower).raft().transport().droppedByFaults();
            CompletableFuture<KvClient.Response> read = CompletableFuture
                    .supplyAsync(() -> cluster.client(roles.follower).get("k?level=default"));
            await().atMost(PATIENCE).until(() -> cluster.node(roles.follower).raft().transport().droppedByFaults()
                    > dropped);
            cluster.node(roles.leader).raft().transferLeadership();

            assertThat(read.join()).returns(200, KvClient.Response::status).returns("v", KvClient.Response::body);
            assertThat(cluster.node(roles.other).raft().role()).isEqualTo(RaftRole.LEADER);
        }
    }

    @Test
    void aForwardedWriteThatReachesTheFollowerInASnapshotIsAcknowledgedWithItsResult() {
        try (TestCluster cluster = new TestCluster(dir, 3, SNAPSHOT_COUNT).start()) {
            Roles roles = Roles.of(cluster);
            NetworkFaults leaderFaults = cluster.node(roles.leader).raft().transport().faults();
            leaderFaults.drop(roles.follower, message -> message instanceof AppendEntriesRequest);

            // A conditional write: its result (applied, at which revision) comes with the leader's word.
            CompletableFuture<KvClient.Response> write = CompletableFuture.supplyAsync(
                    () -> cluster.client(roles.follower).send("PUT", "w", "x", "If-None-Match", "*"));
            awaitStale(cluster, roles.leader, "w", "x");
            leaveBehindASnapshot(cluster, roles.leader, roles.leader);
            leaderFaults.heal(roles.follower);

            assertThat(write.join()).returns(204, KvClient.Response::status)
                    .returns(cluster.client(roles.leader).get("w").header("ETag"), r -> r.header("ETag"));
            assertThat(cluster.client(roles.follower).get("w?level=stale").body()).isEqualTo("x");
        }
    }

    /**
     * A new term's first entry, applied after a snapshot that held the write, used to tell the follower that the write
     * was lost: its client then proposed it again, over a later write.
     */
    @Test
    void aForwardedWriteThatReachesTheFollowerInASnapshotIsNotProposedAgainWhenALaterTermStarts() {
        try (TestCluster cluster = new TestCluster(dir, 3, SNAPSHOT_COUNT).start()) {
            Roles roles = Roles.of(cluster);
            NetworkFaults leaderFaults = cluster.node(roles.leader).raft().transport().faults();
            // Only the follower's writes reach the leader; nothing comes back.
            leaderFaults.drop(roles.follower, message -> !(message instanceof PeerMessage.ForwardedProposals));

            CompletableFuture<KvClient.Response> write = CompletableFuture
                    .supplyAsync(() -> cluster.client(roles.follower).put("w", "x"));
            awaitStale(cluster, roles.leader, "w", "x");
            assertThat(cluster.client(roles.leader).put("w", "y").status()).isEqualTo(204);
            leaveBehindASnapshot(cluster, roles.leader, roles.other);
            cluster.node(roles.leader).raft().transferLeadership().join();
            leaderFaults.heal(roles.follower);

            write.join();
            assertThat(cluster.client(roles.other).get("w?level=consistent").body()).isEqualTo("y");
        }
    }

    /**
     * A write forwarded in a message that never left the follower (the leader's host cannot be dialed) certainly was
     * not committed: its client is told so, or it is proposed again, not left to wait for an answer that cannot come
     * and then told that the write may still be applied. The other follower is stopped, so that no new leader comes.
     */
    @Test
    void aWriteForwardedToALeaderThatCannotBeDialedIsNotLeftInDoubt() {
        try (TestCluster cluster = new TestCluster(dir, 3, SNAPSHOT_COUNT).start()) {
            Roles roles = Roles.of(cluster);
            assertThat(cluster.client(roles.leader).put("k", "v").status()).isEqualTo(204);
            cluster.stop(roles.other);
            long unreachable = cluster.node(roles.follower).raft().transport().droppedUnreachable();
            cluster.node(roles.leader).raft().transport().close();
            // The first writes after it may go into the connection the leader dropped, which the kernel still takes:
            // those may have arrived. Until the follower has found the leader cannot be dialed at all.
            KvClient follower = cluster.client(roles.follower);
            await().atMost(PATIENCE).until(() -> {
                CompletableFuture.runAsync(() -> follower.put("probe", "p"));
                return cluster.node(roles.follower).raft().transport().droppedUnreachable() > unreachable;
            });

            KvClient.Response write = follower.put("k", "w");

            assertThat(write.status()).isEqualTo(503);
            assertThat(write.body()).doesNotContain("may still be applied");
        }
    }

    /** The leader, a follower and the other follower. */
    private record Roles(int leader, int follower, int other) {
        static Roles of(TestCluster cluster) {
            int leader = cluster.awaitLeader();
            int[] followers = IntStream.rangeClosed(1, 3).filter(id -> id != leader).toArray();
            return new Roles(leader, followers[0], followers[1]);
        }
    }

    private static void partition(TestCluster cluster, int a, int b) {
        cluster.node(a).raft().transport().faults().set(b, NetworkFaults.Link.PARTITIONED);
        cluster.node(b).raft().transport().faults().set(a, NetworkFaults.Link.PARTITIONED);
    }

    private static void awaitStale(TestCluster cluster, int id, String key, String value) {
        await().atMost(PATIENCE).until(() -> cluster.client(id).get(key + "?level=stale").body().equals(value));
    }

    /**
     * Writes more than the entries a snapshot keeps behind it through {@code leader}, then has {@code snapshotter}
     * take a snapshot of them all: a follower that had none of them can only catch up from {@code snapshotter} by
     * installing it.
     */
    private static void leaveBehindASnapshot(TestCluster cluster, int leader, int snapshotter) {
        for (int i = 0; i < SNAPSHOT_COUNT / 5; i++) {
            assertThat(cluster.client(leader).put(i == SNAPSHOT_COUNT / 5 - 1 ? "padding" : "pad" + i, "p").status())
                    .isEqualTo(204);
        }
        awaitStale(cluster, snapshotter, "padding", "p");
        cluster.node(snapshotter).raft().takeSnapshot();
    }
}
