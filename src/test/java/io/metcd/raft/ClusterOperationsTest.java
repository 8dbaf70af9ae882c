package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.testkit.WriteLoad;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Operations on a cluster under a write load: membership changes and a rolling restart lose nothing. */
class ClusterOperationsTest {
    @TempDir
    Path dir;

    private static boolean isVoter(KvClient client, int id) {
        return client.get("-/members").body().matches("(?s).*\"id\":" + id + ",[^}]*\"role\":\"(follower|leader)\".*");
    }

    @Test
    void growingFromThreeToFiveAndShrinkingBackUnderAWriteLoadLosesNoAcknowledgedWrite() {
        // Snapshots far enough apart that a learner can catch up from the log under the load: MicroRaft's
        // leader keeps no log entries for learners, so with tiny intervals a learner on a busy machine keeps
        // installing one snapshot after another.
        try (TestCluster cluster = new TestCluster(dir, 3, 5_000).start()) {
            int anchor = cluster.awaitLeader();
            KvClient admin = cluster.client(anchor);
            try (WriteLoad load = new WriteLoad("grow", 500_000, () -> 1 + ThreadLocalRandom.current().nextInt(3),
                    cluster::client)) {
                load.awaitAcknowledged(100);
                for (int id = 4; id <= 5; id++) {
                    String url = cluster.declareMember();
                    assertThat(admin.send("POST", "-/members/" + id, url)).returns(201, KvClient.Response::status);
                    cluster.start(id, true);
                    int joined = id;
                    await().atMost(Duration.ofSeconds(30)).until(() -> isVoter(admin, joined));
                }
                load.awaitAcknowledged(load.acknowledged().size() + 100);
                for (int id = 5; id >= 4; id--) {
                    int leaving = id;
                    await().atMost(Duration.ofSeconds(30)).until(
                            () -> admin.send("DELETE", "-/members/" + leaving, null).status() == 204);
                    await().atMost(Duration.ofSeconds(10)).until(() -> cluster.stoppedAsRemoved(leaving));
                }
                load.awaitAcknowledged(load.acknowledged().size() + 100);
                load.close();
                for (int id = 1; id <= 3; id++) {
                    assertThat(load.lost(cluster::client, id)).as("acknowledged writes missing on node " + id).isEmpty();
                }
            }
        }
    }

    @Test
    void aRollingRestartUnderAWriteLoadLosesNothingAndStallsNoLongerThanAHandover() {
        try (TestCluster cluster = new TestCluster(dir, 3, 200).start()) {
            int[] target = {1};
            try (WriteLoad load = new WriteLoad("roll", 500_000, () -> target[0], cluster::client)) {
                load.awaitAcknowledged(100);
                for (int id = 1; id <= 3; id++) {
                    target[0] = id % 3 + 1;
                    cluster.stop(id);
                    cluster.start(id);
                    int restarted = id;
                    await().atMost(Duration.ofSeconds(30))
                            .until(() -> cluster.client(restarted).get("-/health").status() == 200);
                    load.awaitAcknowledged(load.acknowledged().size() + 50);
                }
                load.close();
                assertThat(load.longestGapBetweenAcknowledgements()).isLessThan(Duration.ofSeconds(5));
                for (int id = 1; id <= 3; id++) {
                    assertThat(load.lost(cluster::client, id)).as("acknowledged writes missing on node " + id).isEmpty();
                }
            }
        }
    }
}
