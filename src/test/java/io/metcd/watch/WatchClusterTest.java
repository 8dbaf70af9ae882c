package io.metcd.watch;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.testkit.WatchStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Watches on a real three-node cluster: every node serves them, with the revisions the leader answered. */
class WatchClusterTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private static long revision(KvClient.Response answer) {
        assertThat(answer.status()).as(answer.toString()).isEqualTo(204);
        return Long.parseLong(answer.header("X-Revision"));
    }

    private static List<String> described(WatchStream stream) {
        return stream.changes().stream().map(WatchStream.Change::toString).toList();
    }

    @Test
    void aWatcherOnAFollowerSeesWritesThroughTheLeaderAndExpiriesAndResumesWhereItLeftOff() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leader = cluster.awaitLeader();
            int follower = cluster.aFollower();
            String followerUrl = "http://127.0.0.1:" + cluster.clientPort(follower);
            KvClient writes = cluster.client(leader);
            WatchStream stream = WatchStream.open(followerUrl, "prefix=app/");
            await().atMost(PATIENCE).until(() -> stream.startedAfter() >= 0);

            long a = revision(writes.put("app/a", "v1"));
            long session = revision(writes.put("app/session?ttl=1", "alive"));
            revision(writes.put("elsewhere", "not watched"));
            long deleted = revision(writes.delete("app/a"));
            await().atMost(PATIENCE).until(() -> stream.changes().size() == 4);
            List<WatchStream.Change> changes = stream.changes();
            assertThat(described(stream).subList(0, 3)).containsExactly(a + " put app/a=v1",
                    session + " put app/session=alive", deleted + " delete app/a");
            // The leader's expiry, proposed once the deadline passed: a delete at a revision of its own.
            assertThat(changes.get(3)).returns("delete", WatchStream.Change::type)
                    .returns("app/session", WatchStream.Change::key);
            assertThat(changes.get(3).revision()).isGreaterThan(deleted);
            stream.close();

            long missed = revision(writes.put("app/b", "written while no one watched"));
            long lastSeen = stream.lastEventId();
            assertThat(lastSeen).isEqualTo(changes.get(3).revision());
            for (int id = 1; id <= 3; id++) {
                try (WatchStream resumed = WatchStream.open("http://127.0.0.1:" + cluster.clientPort(id),
                        "prefix=app/", "Last-Event-ID", Long.toString(lastSeen))) {
                    await().atMost(PATIENCE).until(() -> !resumed.changes().isEmpty());
                    assertThat(described(resumed)).as("node " + id)
                            .containsExactly(missed + " put app/b=written while no one watched");
                }
            }
        }
    }
}
