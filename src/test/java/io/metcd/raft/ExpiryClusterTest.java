package io.metcd.raft;

import io.metcd.kv.Engine;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Keys with a time to live on a real cluster: the leader stamps every batch, a forwarded one too, and proposes the
 * delete of what is due, whoever leads; the deadline outlives the leader that set it and a restart.
 */
class ExpiryClusterTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aKeyWrittenThroughAFollowerExpiresOnEveryNodeSoonAfterItsDeadline() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            cluster.awaitLeader();
            int follower = cluster.aFollower();
            long start = System.nanoTime();
            assertThat(cluster.client(follower).put("session?ttl=1", "alive").status()).isEqualTo(204);
            for (int id = 1; id <= 3; id++) {
                KvClient client = cluster.client(id);
                await().atMost(PATIENCE).pollInterval(Duration.ofMillis(20))
                        .until(() -> client.get("session?level=stale").status() == 404);
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1))
                    .isLessThan(Duration.ofSeconds(3));
        }
    }

    @Test
    void aNewLeaderExpiresWhatItsPredecessorLeftDue() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leader = cluster.awaitLeader();
            assertThat(cluster.client(leader).put("lease?ttl=2", "held").status()).isEqualTo(204);
            assertThat(cluster.client(leader).put("kept", "forever").status()).isEqualTo(204);
            cluster.stop(leader);
            int survivor = IntStream.rangeClosed(1, 3).filter(id -> id != leader).findFirst().orElseThrow();
            await().atMost(PATIENCE).until(() -> cluster.client(survivor).get("lease").status() == 404);
            assertThat(cluster.client(survivor).get("kept").body()).isEqualTo("forever");
        }
    }

    @Test
    void aRestartedNodeKeepsTheDeadlinesOfItsKeys() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000, Engine.leveldb).start()) {
            int leader = cluster.awaitLeader();
            assertThat(cluster.client(leader).put("lease?ttl=3", "held").status()).isEqualTo(204);
            int follower = cluster.aFollower();
            await().atMost(PATIENCE).until(() -> cluster.client(follower).get("lease?level=stale").status() == 200);
            cluster.stop(follower);
            cluster.start(follower);
            assertThat(cluster.client(follower).get("lease?level=stale").header("X-TTL")).isIn("1", "2", "3");
            await().atMost(PATIENCE).until(() -> cluster.client(follower).get("lease?level=stale").status() == 404);
        }
    }
}
