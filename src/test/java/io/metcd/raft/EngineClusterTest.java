package io.metcd.raft;

import io.metcd.kv.Engine;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Three nodes in one JVM on each disk engine (ClusterTest covers the same cases on the in-memory one): restarts,
 * snapshot installs, nodes on different engines, and what a data directory allows.
 */
class EngineClusterTest {
    private static final Pattern APPLIED_INDEX = Pattern.compile("\"appliedIndex\":(\\d+)");
    private static final Pattern ENGINE = Pattern.compile("\"engine\":\"(\\w+)\"");

    @TempDir
    Path dir;

    static long appliedIndex(KvClient client) {
        Matcher m = APPLIED_INDEX.matcher(client.get("-/status").body());
        assertThat(m.find()).isTrue();
        return Long.parseLong(m.group(1));
    }

    static void putAll(KvClient client, String prefix, int count) {
        for (int i = 0; i < count; i++) {
            assertThat(client.put(prefix + i, "v" + i)).returns(204, KvClient.Response::status);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Engine.class, names = {"mapdb", "leveldb"})
    void theStatusNamesTheEngineInUse(Engine engine) {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000, engine).start()) {
            Matcher m = ENGINE.matcher(cluster.client(cluster.aFollower()).get("-/status").body());
            assertThat(m.find()).isTrue();
            assertThat(m.group(1)).isEqualTo(engine.name());
        }
    }

    @ParameterizedTest
    @EnumSource(value = Engine.class, names = {"mapdb", "leveldb"})
    void aRestartedFollowerComesBackWithItsDataAndCatchesUp(Engine engine) {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000, engine).start()) {
            int leader = cluster.awaitLeader();
            int follower = cluster.aFollower();
            putAll(cluster.client(leader), "early", 100);
            await().until(() -> cluster.client(follower).get("early99?level=stale").status() == 200);
            cluster.stop(follower);
            putAll(cluster.client(leader), "late", 50);
            cluster.start(follower);
            KvClient restarted = cluster.client(follower);
            assertThat(restarted.get("early0?level=stale").body()).isEqualTo("v0");
            await().atMost(Duration.ofSeconds(15)).until(() -> restarted.get("late49?level=stale").status() == 200);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Engine.class, names = {"mapdb", "leveldb"})
    void aRestartedNodeStartsAtTheIndexItsEngineHeldInsteadOfReplayingIt(Engine engine) {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000, engine).start()) {
            int leader = cluster.awaitLeader();
            int follower = cluster.aFollower();
            putAll(cluster.client(leader), "key", 200);
            await().until(() -> cluster.client(follower).get("key199?level=stale").status() == 200);
            long before = appliedIndex(cluster.client(follower));
            cluster.stop(follower);
            cluster.start(follower);
            assertThat(appliedIndex(cluster.client(follower))).isGreaterThanOrEqualTo(before);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Engine.class, names = {"mapdb", "leveldb"})
    void aFollowerThatFellFarBehindCatchesUpByInstallingTheLeadersSnapshot(Engine engine) {
        try (TestCluster cluster = new TestCluster(dir, 3, 20, engine).start()) {
            int follower = cluster.aFollower();
            int leader = cluster.awaitLeader();
            putAll(cluster.client(leader), "old", 10);
            await().until(() -> cluster.client(follower).get("old9?level=stale").status() == 200);
            cluster.stop(follower);
            putAll(cluster.client(leader), "key", 150);
            cluster.client(leader).delete("old0");
            await().until(() -> cluster.node(leader).raft().lastSnapshotIndex() >= 100);
            cluster.start(follower);
            KvClient restarted = cluster.client(follower);
            await().atMost(Duration.ofSeconds(20)).until(() -> restarted.get("key149?level=stale").status() == 200);
            assertThat(restarted.get("key0?level=stale").body()).isEqualTo("v0");
            assertThat(restarted.get("old9?level=stale").body()).isEqualTo("v9");
            assertThat(restarted.get("old0?level=stale").status()).isEqualTo(404);
            assertThat(cluster.node(follower).raft().lastSnapshotIndex()).isGreaterThan(0);
        }
    }

    @ParameterizedTest
    @EnumSource(Engine.class)
    void aFullClusterRestartKeepsEveryAcknowledgedWrite(Engine engine) {
        try (TestCluster cluster = new TestCluster(dir, 3, 30, engine).start()) {
            putAll(cluster.client(cluster.awaitLeader()), "key", 100);
            cluster.client(cluster.awaitLeader()).delete("key7");
            for (int id = 1; id <= 3; id++) {
                cluster.stop(id);
            }
            cluster.start();
            for (int id = 1; id <= 3; id++) {
                KvClient client = cluster.client(id);
                assertThat(client.get("key99?level=consistent").body()).isEqualTo("v99");
                assertThat(client.get("key0?level=consistent").body()).isEqualTo("v0");
                assertThat(client.get("key7?level=consistent")).returns(404, KvClient.Response::status);
            }
        }
    }

    @Test
    void nodesOnDifferentEnginesInstallEachOthersSnapshots() {
        try (TestCluster cluster = new TestCluster(dir, 3, 20, Engine.leveldb).withEngine(2, Engine.mapdb)
                .withEngine(3, Engine.map).start()) {
            int leader = cluster.awaitLeader();
            for (int id = 1; id <= 3; id++) {
                if (id != leader) {
                    catchUpFromTheLeadersSnapshot(cluster, leader, id);
                }
            }
        }
    }

    private static void catchUpFromTheLeadersSnapshot(TestCluster cluster, int leader, int behind) {
        cluster.stop(behind);
        long snapshotted = cluster.node(leader).raft().lastSnapshotIndex();
        putAll(cluster.client(leader), "while" + behind + "-", 60);
        await().until(() -> cluster.node(leader).raft().lastSnapshotIndex() > snapshotted);
        cluster.start(behind);
        KvClient restarted = cluster.client(behind);
        await().atMost(Duration.ofSeconds(20))
                .until(() -> restarted.get("while" + behind + "-59?level=stale").status() == 200);
        assertThat(restarted.get("while" + behind + "-0?level=stale").body()).isEqualTo("v0");
    }

    @ParameterizedTest
    @EnumSource(Engine.class)
    void aNodeStartedWithAnotherEngineThanItsDataWasWrittenWithRefusesToStart(Engine engine) {
        Engine other = engine == Engine.leveldb ? Engine.mapdb : Engine.leveldb;
        try (TestCluster cluster = new TestCluster(dir, 3, 1000, engine).start()) {
            int follower = cluster.aFollower();
            cluster.client(cluster.awaitLeader()).put("k", "v");
            cluster.stop(follower);
            cluster.withEngine(follower, other);
            assertThatThrownBy(() -> cluster.start(follower)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("was written by engine " + engine.name())
                    .hasMessageContaining("--engine " + engine.name());
            cluster.withEngine(follower, engine);
            cluster.start(follower);
            await().until(() -> "v".equals(cluster.client(follower).get("k?level=stale").body()));
        }
    }
}
