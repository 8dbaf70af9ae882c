package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.transport.NetworkFaults;
import io.microraft.RaftRole;
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
 * leader; a write that reached the follower inside a snapshot, not as an entry, is acknowledged, and not retried.
 */
class FollowerRequestsTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
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
}
