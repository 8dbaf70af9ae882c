package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Without a quorum a node neither hangs nor pretends: requests get 503 with Retry-After in bounded time. */
class NoQuorumTest {
    @TempDir
    Path dir;

    @Test
    void writesAndConsistentReadsGet503WithRetryAfterWhenAMajorityIsDown() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int survivor = cluster.aFollower();
            KvClient client = cluster.client(survivor);
            assertThat(client.put("k", "v")).returns(204, KvClient.Response::status);
            for (int id = 1; id <= 3; id++) {
                if (id != survivor) {
                    cluster.stop(id);
                }
            }
            long started = System.nanoTime();
            KvClient.Response write = client.put("k", "v2");
            assertThat(write).returns(503, KvClient.Response::status);
            assertThat(write.header("Retry-After")).isNotNull();
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(12));
            assertThat(client.get("k?level=consistent")).returns(503, KvClient.Response::status);
            // A stale read still answers from local state.
            assertThat(client.get("k?level=stale").body()).isEqualTo("v");
            await().atMost(Duration.ofSeconds(10)).until(() -> client.get("-/health").status() == 503);
        }
    }
}
