package io.metcd.http;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Every status code of the client API contract, on the leader and on a follower of one shared cluster. */
class HttpApiTest {
    @TempDir
    static Path dir;
    static TestCluster cluster;
    static KvClient leader;
    static KvClient follower;

    @BeforeAll
    static void startCluster() {
        cluster = new TestCluster(dir, 3, 1000).start();
        leader = cluster.client(cluster.awaitLeader());
        follower = cluster.client(cluster.aFollower());
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    @Test
    void putAnswers204AndGetReturnsTheValue() {
        assertThat(leader.put("greeting", "hello world")).returns(204, KvClient.Response::status);
        KvClient.Response got = leader.get("greeting");
        assertThat(got).returns(200, KvClient.Response::status);
        assertThat(got.body()).isEqualTo("hello world");
    }

    @Test
    void keysMayContainSlashesAndPercentEncodedBytes() {
        assertThat(leader.put("a/b/c", "nested")).returns(204, KvClient.Response::status);
        assertThat(leader.get("a%2Fb%2Fc").body()).isEqualTo("nested");
        assertThat(leader.put("sp%20ace", "x")).returns(204, KvClient.Response::status);
        assertThat(leader.get("sp%20ace").body()).isEqualTo("x");
    }

    @Test
    void getOfAnAbsentKeyAnswers404WithAReason() {
        KvClient.Response got = leader.get("never-written");
        assertThat(got).returns(404, KvClient.Response::status);
        assertThat(got.body()).isEqualTo("key not found\n");
    }

    @Test
    void deleteAnswers204EvenForAnAbsentKey() {
        leader.put("doomed", "x");
        assertThat(leader.delete("doomed")).returns(204, KvClient.Response::status);
        assertThat(leader.get("doomed")).returns(404, KvClient.Response::status);
        assertThat(leader.delete("doomed")).returns(204, KvClient.Response::status);
    }

    @Test
    void everyReadLevelOnAFollowerSeesAWriteAcknowledgedByTheLeader() {
        assertThat(leader.put("levels", "v")).returns(204, KvClient.Response::status);
        assertThat(follower.get("levels?level=consistent").body()).isEqualTo("v");
        assertThat(follower.get("levels?level=default").body()).isEqualTo("v");
        assertThat(follower.get("levels").body()).isEqualTo("v");
    }

    @Test
    void anUnknownReadLevelAnswers400() {
        KvClient.Response got = leader.get("k?level=eventual");
        assertThat(got).returns(400, KvClient.Response::status);
        assertThat(got.body()).contains("level");
    }

    @Test
    void anEmptyKeyAnswers400() {
        assertThat(leader.put("", "x")).returns(400, KvClient.Response::status);
        assertThat(leader.get("")).returns(400, KvClient.Response::status);
    }

    @Test
    void aKeyOver4096BytesAnswers413AndNothingIsStored() {
        String key = "k".repeat(4097);
        assertThat(leader.put(key, "x")).returns(413, KvClient.Response::status);
        assertThat(leader.get("k".repeat(4096))).returns(404, KvClient.Response::status);
    }

    @Test
    void aValueOver1MiBAnswers413AndNothingIsStored() {
        assertThat(leader.put("big", "v".repeat((1 << 20) + 1))).returns(413, KvClient.Response::status);
        assertThat(leader.get("big")).returns(404, KvClient.Response::status);
        assertThat(leader.put("big", "v".repeat(1 << 20))).returns(204, KvClient.Response::status);
        assertThat(leader.get("big").body()).hasSize(1 << 20);
    }

    @Test
    void anUnsupportedMethodAnswers405() {
        assertThat(leader.send("POST", "some-key", "x")).returns(405, KvClient.Response::status);
        assertThat(leader.send("PATCH", "some-key", "x")).returns(405, KvClient.Response::status);
    }

    @Test
    void anUnknownClusterPathAnswers404() {
        assertThat(leader.get("-/nothing-here")).returns(404, KvClient.Response::status);
    }

    @Test
    void statusNamesTheNodeItsRoleTheLeaderAndTheIndexes() {
        String status = follower.get("-/status").body();
        assertThat(status).contains("\"role\":\"follower\"", "\"engine\":\"map\"", "\"leaderId\":",
                "\"commitIndex\":", "\"appliedIndex\":", "\"lastSnapshotIndex\":", "\"term\":");
        assertThat(leader.get("-/status").body()).contains("\"role\":\"leader\"");
    }

    @Test
    void healthAnswers200WhileTheNodeHasALeader() {
        assertThat(follower.get("-/health")).returns(200, KvClient.Response::status);
    }
}
