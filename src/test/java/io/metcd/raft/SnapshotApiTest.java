package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** POST /-/snapshot: a snapshot of the node it is sent to, at its commit index, taken now. */
class SnapshotApiTest {
    private static final Pattern INDEX = Pattern.compile("\"index\":(\\d+)");

    @TempDir
    Path dir;

    @Test
    void postingSnapshotTakesOneAtTheCommitIndexAndAnswersItsIndex() {
        try (TestCluster cluster = new TestCluster(dir, 3, 10_000).start()) {
            int follower = cluster.aFollower();
            KvClient client = cluster.client(follower);
            for (int i = 0; i < 20; i++) {
                assertThat(client.put("k" + i, "v")).returns(204, KvClient.Response::status);
            }
            assertThat(cluster.node(follower).raft().lastSnapshotIndex()).isZero();

            KvClient.Response taken = client.send("POST", "-/snapshot", null);
            assertThat(taken).returns(200, KvClient.Response::status);
            Matcher m = INDEX.matcher(taken.body());
            assertThat(m.find()).as(taken.body()).isTrue();
            long index = Long.parseLong(m.group(1));
            assertThat(index).isGreaterThanOrEqualTo(21);
            assertThat(cluster.node(follower).raft().lastSnapshotIndex()).isEqualTo(index);
            assertThat(client.get("-/status").body()).contains("\"lastSnapshotIndex\":" + index);
        }
    }
}
