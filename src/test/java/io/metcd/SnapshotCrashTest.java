package io.metcd;

import io.metcd.model.CrashPoint;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * kill -9 at every step of a snapshot's life ({@link CrashPoint}: taking, writing, sending, receiving, installing,
 * compacting), as etcd's failpoints do it: the node halts at that step, starts again on what it left on disk, and comes
 * back with every write the cluster acknowledged, as do the others. Real processes with {@code --test-faults}; each
 * point runs on one engine, the engines taking turns, so that every engine meets several points without the suite
 * paying for all thirty-three. {@code make test} runs one point of each kind (a node's own snapshot half written, a
 * chunk sent by the leader, a follower's install half done); {@code make chaos} all of them
 * ({@code -Dsnapshot-crash.all-points=true}).
 */
class SnapshotCrashTest {
    private static final int SNAPSHOT_COUNT = 100;
    /** Large enough that a snapshot spans several 1 MiB chunks, so that the "half" points lie between two. */
    private static final String VALUE = "v".repeat(16 << 10);
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    /** kill -9's status, which a crash point halts with. */
    private static final int KILLED = 137;
    private static final Set<CrashPoint> QUICK = EnumSet.of(CrashPoint.SNAPSHOT_HALF_WRITTEN,
            CrashPoint.SNAPSHOT_CHUNK_SENT, CrashPoint.SNAPSHOT_HALF_INSTALLED);

    @TempDir
    Path dir;

    /** The steps a node goes through when it takes a snapshot of its own, and the compaction that follows. */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.class, names = {"SNAPSHOT_MARKER_PUBLISHED", "SNAPSHOT_VIEW_OPEN",
            "SNAPSHOT_HALF_WRITTEN", "SNAPSHOT_WRITTEN", "SNAPSHOT_DURABLE", "WAL_COMPACTING"})
    void aNodeKilledWhileTakingASnapshotComesBackWithEveryAcknowledgedWrite(CrashPoint point) {
        try (ProcessCluster cluster = cluster(point)) {
            int leader = cluster.awaitLeader();
            int victim = leader % 3 + 1;
            arm(cluster, victim, point);
            Map<String, String> acknowledged = writeUntilExit(cluster, leader, victim, 6 * SNAPSHOT_COUNT);

            assertComesBackWithEverything(cluster, victim, acknowledged);
        }
    }

    /**
     * The steps of a follower that fell behind the leader's compaction and is sent the leader's snapshot: it is cut off
     * while the leader writes and compacts past it, armed, then let back.
     */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.class, names = {"SNAPSHOT_HALF_RECEIVED", "SNAPSHOT_RECEIVED",
            "SNAPSHOT_HALF_INSTALLED", "SNAPSHOT_INSTALLED"})
    void aFollowerKilledWhileInstallingTheLeadersSnapshotComesBackWithEveryAcknowledgedWrite(CrashPoint point) {
        try (ProcessCluster cluster = cluster(point)) {
            int leader = cluster.awaitLeader();
            int victim = leader % 3 + 1;
            Map<String, String> acknowledged = leaveBehind(cluster, leader, victim);
            arm(cluster, victim, point);
            heal(cluster, leader, victim);

            assertThat(cluster.awaitExit(victim, PATIENCE)).as("the follower's exit at " + point).isEqualTo(KILLED);
            assertComesBackWithEverything(cluster, victim, acknowledged);
        }
    }

    /** The leader halts as it sends a snapshot's chunks to a follower that needs it. */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.class, names = "SNAPSHOT_CHUNK_SENT")
    void aLeaderKilledWhileSendingASnapshotLosesNoAcknowledgedWrite(CrashPoint point) {
        try (ProcessCluster cluster = cluster(point)) {
            int leader = cluster.awaitLeader();
            int follower = leader % 3 + 1;
            Map<String, String> acknowledged = leaveBehind(cluster, leader, follower);
            arm(cluster, leader, point);
            heal(cluster, leader, follower);

            assertThat(cluster.awaitExit(leader, PATIENCE)).as("the leader's exit at " + point).isEqualTo(KILLED);
            assertComesBackWithEverything(cluster, leader, acknowledged);
        }
    }

    private ProcessCluster cluster(CrashPoint point) {
        assumeTrue(QUICK.contains(point) || Boolean.getBoolean("snapshot-crash.all-points"),
                "make chaos runs every crash point; make test one of each kind");
        String engine = switch (point.ordinal() % 3) {
            case 0 -> "map";
            case 1 -> "mapdb";
            default -> "leveldb";
        };
        return new ProcessCluster(dir, 3, engine, "--test-faults", "--snapshot-count", String.valueOf(SNAPSHOT_COUNT))
                .start();
    }

    private static void arm(ProcessCluster cluster, int id, CrashPoint point) {
        String name = point.name().toLowerCase(Locale.ROOT).replace('_', '-');
        assertThat(cluster.client(id).send("PUT", "-/test/crash/" + name, "").status()).isEqualTo(204);
    }

    /** Writes distinct keys through {@code leader} until {@code victim} has halted (or {@code limit} writes). */
    private static Map<String, String> writeUntilExit(ProcessCluster cluster, int leader, int victim, int limit) {
        Map<String, String> acknowledged = new LinkedHashMap<>();
        for (int i = 0; i < limit && cluster.isRunning(victim); i++) {
            put(cluster, leader, "key" + i, acknowledged);
        }
        assertThat(cluster.awaitExit(victim, PATIENCE)).as("the exit of node " + victim).isEqualTo(KILLED);
        // The cluster goes on without it: what it acknowledges meanwhile must reach the node too.
        int now = cluster.awaitLeader();
        IntStream.range(0, SNAPSHOT_COUNT / 2).forEach(i -> put(cluster, now, "after" + i, acknowledged));
        return acknowledged;
    }

    /**
     * Cuts {@code follower} off from {@code leader}, writes through the leader until it has compacted past the
     * follower (three snapshots' worth), and returns what was acknowledged: the follower can only catch up by a
     * snapshot.
     */
    private static Map<String, String> leaveBehind(ProcessCluster cluster, int leader, int follower) {
        Map<String, String> acknowledged = new LinkedHashMap<>();
        put(cluster, leader, "first", acknowledged);
        partition(cluster, leader, follower, "1");
        IntStream.range(0, 3 * SNAPSHOT_COUNT).forEach(i -> put(cluster, leader, "key" + i, acknowledged));
        return acknowledged;
    }

    private static void heal(ProcessCluster cluster, int leader, int follower) {
        partition(cluster, leader, follower, "0");
    }

    private static void partition(ProcessCluster cluster, int a, int b, String loss) {
        assertThat(cluster.client(a).send("PUT", "-/test/faults/" + b + "?loss=" + loss, "").status()).isEqualTo(204);
        assertThat(cluster.client(b).send("PUT", "-/test/faults/" + a + "?loss=" + loss, "").status()).isEqualTo(204);
    }

    private static void put(ProcessCluster cluster, int node, String key, Map<String, String> acknowledged) {
        String value = key + VALUE;
        assertThat(cluster.client(node).put(key, value).status()).as("PUT " + key).isEqualTo(204);
        acknowledged.put(key, value);
    }

    /** Starts {@code id} again; it, and every other node, then reads every acknowledged write. */
    private static void assertComesBackWithEverything(ProcessCluster cluster, int id, Map<String, String> acknowledged) {
        cluster.start(id);
        cluster.awaitServing();
        String last = acknowledged.keySet().stream().reduce((a, b) -> b).orElseThrow();
        for (int node = 1; node <= 3; node++) {
            int n = node;
            KvClient client = cluster.client(node);
            await().atMost(PATIENCE).ignoreExceptions()
                    .until(() -> client.get(last + "?level=stale").body().equals(acknowledged.get(last)));
            acknowledged.forEach((key, value) -> assertThat(client.get(key + "?level=stale").body())
                    .as("%s on node %d", key, n).isEqualTo(value));
        }
    }
}
