package io.metcd.http;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.microraft.RaftRole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The test-only admin requests of {@code --test-faults}, which the fault-injection suite drives. */
class FaultInjectionApiTest {
    @TempDir
    Path dir;

    @Test
    void partitioningTheLeaderFromItsPeersElectsAnotherAndHealingBringsItBackAsAFollower() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).withFaultInjection().start()) {
            int old = cluster.awaitLeader();
            KvClient oldLeader = cluster.client(old);
            for (int peer = 1; peer <= 3; peer++) {
                if (peer != old) {
                    assertThat(oldLeader.send("PUT", "-/test/faults/" + peer + "?loss=1", null).status())
                            .isEqualTo(204);
                }
            }
            assertThat(oldLeader.get("-/test/faults").body()).contains("\"loss\":1.0");

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

    @Test
    void badFaultParametersAnswer400WithAReason() {
        try (TestCluster cluster = new TestCluster(dir, 1, 1000).withFaultInjection().start()) {
            KvClient node = cluster.client(1);
            KvClient.Response tooLossy = node.send("PUT", "-/test/faults/2?loss=1.5", null);
            assertThat(tooLossy.status()).isEqualTo(400);
            assertThat(tooLossy.body()).contains("loss rate");
            assertThat(node.send("PUT", "-/test/faults/2?delay-ms=soon", null).status()).isEqualTo(400);
            assertThat(node.send("PUT", "-/test/faults/0", null).status()).isEqualTo(400);
        }
    }

    @Test
    void withoutTheFlagTheAdminPathsAreNotServedNorTakenForKeys() {
        try (TestCluster cluster = new TestCluster(dir, 1, 1000).start()) {
            KvClient node = cluster.client(1);
            assertThat(node.send("PUT", "-/test/faults/2?loss=1", null).status()).isEqualTo(404);
            assertThat(node.get("-/test/faults").status()).isEqualTo(404);
            assertThat(node.get("-%2Ftest/faults?level=stale").status()).isEqualTo(404);
        }
    }
}
