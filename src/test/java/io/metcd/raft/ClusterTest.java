package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.microraft.RaftRole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Three nodes in one JVM over real loopback sockets: replication, failover, restart and catch-up. */
class ClusterTest {
    @TempDir
    Path dir;

    @Test
    void aWriteAcknowledgedByTheLeaderIsReadableOnEveryNode() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leader = cluster.awaitLeader();
            assertThat(cluster.client(leader).put("hello", "world")).returns(204, KvClient.Response::status);
            for (int id = 1; id <= 3; id++) {
                KvClient client = cluster.client(id);
                await().atMost(Duration.ofSeconds(5)).until(() -> client.get("hello?level=stale").body(),
                        "world"::equals);
            }
        }
    }

    @Test
    void aFollowerForwardsWritesToTheLeaderAndAnswersAfterApplyingThem() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int follower = cluster.aFollower();
            assertThat(cluster.client(follower).put("k", "v1")).returns(204, KvClient.Response::status);
            // Acknowledged by the follower only once applied there: a stale read on it already sees it.
            assertThat(cluster.client(follower).get("k?level=stale").body()).isEqualTo("v1");
            assertThat(cluster.client(follower).delete("k")).returns(204, KvClient.Response::status);
            assertThat(cluster.client(follower).get("k?level=stale")).returns(404, KvClient.Response::status);
        }
    }

    @Test
    void everyReadLevelOnAFollowerSeesAWriteAcknowledgedByTheLeader() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            KvClient leader = cluster.client(cluster.awaitLeader());
            KvClient follower = cluster.client(cluster.aFollower());
            assertThat(leader.put("levels", "v")).returns(204, KvClient.Response::status);
            assertThat(follower.get("levels?level=consistent").body()).isEqualTo("v");
            assertThat(follower.get("levels?level=default").body()).isEqualTo("v");
            assertThat(follower.get("levels").body()).isEqualTo("v");
        }
    }

    @Test
    void aNewLeaderIsElectedWithinSecondsWhenTheLeaderStops() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int oldLeader = cluster.awaitLeader();
            cluster.client(oldLeader).put("before", "1");
            long stoppedAt = System.nanoTime();
            cluster.stop(oldLeader);
            int newLeader = cluster.awaitLeader();
            assertThat(newLeader).isNotEqualTo(oldLeader);
            assertThat(Duration.ofNanos(System.nanoTime() - stoppedAt)).isLessThan(Duration.ofSeconds(8));
            assertThat(cluster.client(newLeader).put("after", "2")).returns(204, KvClient.Response::status);
            assertThat(cluster.client(newLeader).get("before?level=consistent").body()).isEqualTo("1");
        }
    }

    @Test
    void aRestartedFollowerComesBackWithItsDataAndCatchesUp() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int follower = cluster.aFollower();
            int leader = cluster.awaitLeader();
            cluster.client(leader).put("early", "e");
            await().until(() -> cluster.client(follower).get("early?level=stale").status() == 200);
            cluster.stop(follower);
            for (int i = 0; i < 50; i++) {
                assertThat(cluster.client(leader).put("late" + i, "v" + i)).returns(204, KvClient.Response::status);
            }
            cluster.start(follower);
            KvClient restarted = cluster.client(follower);
            assertThat(restarted.get("early?level=stale").body()).isEqualTo("e");
            await().atMost(Duration.ofSeconds(10)).until(() -> restarted.get("late49?level=stale").status() == 200);
        }
    }

    @Test
    void aFollowerThatFellBehindTheLeadersSnapshotCatchesUpByInstallingIt() {
        try (TestCluster cluster = new TestCluster(dir, 3, 20).start()) {
            int follower = cluster.aFollower();
            int leader = cluster.awaitLeader();
            cluster.stop(follower);
            for (int i = 0; i < 150; i++) {
                assertThat(cluster.client(leader).put("key" + i, "v" + i)).returns(204, KvClient.Response::status);
            }
            await().until(() -> cluster.node(leader).raft().lastSnapshotIndex() >= 100);
            cluster.start(follower);
            KvClient restarted = cluster.client(follower);
            await().atMost(Duration.ofSeconds(15)).until(() -> restarted.get("key149?level=stale").status() == 200);
            assertThat(restarted.get("key0?level=stale").body()).isEqualTo("v0");
            assertThat(cluster.node(follower).raft().lastSnapshotIndex()).isGreaterThan(0);
        }
    }

    /** The test-only admin requests of {@code --test-faults}, as the fault-injection suite drives them. */
    @Test
    void partitioningTheLeaderThroughTheFaultInjectionApiElectsAnotherAndHealingBringsItBackAsAFollower() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).withFaultInjection().start()) {
            int old = cluster.awaitLeader();
            KvClient oldLeader = cluster.client(old);
            for (int peer = 1; peer <= 3; peer++) {
                if (peer != old) {
                    assertThat(oldLeader.send("PUT", "-/test/faults/" + peer + "?loss=1", null).status())
                            .isEqualTo(204);
                }
            }

            int follower = old % 3 + 1;
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                var leader = cluster.node(follower).raft().leader();
                return leader != null && leader.id() != old;
            });
            assertThat(cluster.client(follower).put("during-partition", "x").status()).isEqualTo(204);

            assertThat(oldLeader.send("DELETE", "-/test/faults", null).status()).isEqualTo(204);
            await().atMost(Duration.ofSeconds(20))
                    .until(() -> cluster.node(old).raft().role() == RaftRole.FOLLOWER
                            && oldLeader.get("during-partition?level=stale").status() == 200);
        }
    }
}
