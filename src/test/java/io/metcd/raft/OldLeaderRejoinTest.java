package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.transport.NetworkFaults;
import io.microraft.report.RaftNodeReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * MicroRaft 0.7's follower bug, driven on purpose: an old leader that took a snapshot at its commit index,
 * then logged writes it could not replicate, restarts and rejoins. The new leader probes it with previous
 * indexes down to that snapshot index, which MicroRaft 0.7 rejects forever; metcd must catch it up anyway.
 */
class OldLeaderRejoinTest {
    @TempDir
    Path dir;

    @Test
    void anOldLeaderWithASnapshotAndUnreplicatedEntriesCatchesUpAfterRestarting() throws Exception {
        try (TestCluster cluster = new TestCluster(dir, 3, 10_000).start()) {
            int oldLeader = cluster.awaitLeader();
            KvClient old = cluster.client(oldLeader);
            for (int i = 0; i < 10; i++) {
                assertThat(old.put("committed" + i, "c")).returns(204, KvClient.Response::status);
            }
            long snapshotIndex = cluster.node(oldLeader).raft().takeSnapshot();
            assertThat(snapshotIndex).isEqualTo(report(cluster, oldLeader).getLog().getLastLogOrSnapshotIndex());

            isolate(cluster, oldLeader, true);
            List<CompletableFuture<KvClient.Response>> doomed = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String key = "unreplicated" + i;
                doomed.add(CompletableFuture.supplyAsync(() -> old.put(key, "lost")));
            }
            await().until(() -> report(cluster, oldLeader).getLog().getLastLogOrSnapshotIndex() > snapshotIndex);

            int newLeader = await().atMost(Duration.ofSeconds(20))
                    .until(() -> leaderAmong(cluster, oldLeader), id -> id > 0);
            for (int i = 0; i < 20; i++) {
                assertThat(cluster.client(newLeader).put("after" + i, "a")).returns(204, KvClient.Response::status);
            }
            doomed.forEach(CompletableFuture::join);

            cluster.stop(oldLeader);
            isolate(cluster, oldLeader, false);
            cluster.start(oldLeader);

            await().atMost(Duration.ofSeconds(20)).until(() -> old.get("after19?level=stale").status() == 200);
            assertThat(old.get("committed9?level=stale").body()).isEqualTo("c");
            for (int i = 0; i < 3; i++) {
                assertThat(old.get("unreplicated" + i + "?level=stale").status()).isEqualTo(404);
            }
        }
    }

    /** Cuts {@code id} off from every other node, both ways, or heals it. */
    private static void isolate(TestCluster cluster, int id, boolean partitioned) {
        for (int other = 1; other <= cluster.size(); other++) {
            if (other != id && cluster.node(other) != null) {
                partition(cluster.node(other).raft().transport().faults(), id, partitioned);
                if (cluster.node(id) != null) {
                    partition(cluster.node(id).raft().transport().faults(), other, partitioned);
                }
            }
        }
    }

    private static void partition(NetworkFaults faults, int peer, boolean partitioned) {
        if (partitioned) {
            faults.set(peer, NetworkFaults.Link.PARTITIONED);
        } else {
            faults.heal(peer);
        }
    }

    private static RaftNodeReport report(TestCluster cluster, int id) {
        return cluster.node(id).raft().report();
    }

    /** The leader the nodes other than {@code excluded} agree on, or 0. */
    private static int leaderAmong(TestCluster cluster, int excluded) {
        int leader = 0;
        for (int id = 1; id <= cluster.size(); id++) {
            if (id == excluded) {
                continue;
            }
            Member known = cluster.node(id).raft().leader();
            if (known == null || known.id() == excluded || (leader != 0 && leader != known.id())) {
                return 0;
            }
            leader = known.id();
        }
        return leader;
    }
}
