package io.metcd.raft;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import io.metcd.transport.NetworkFaults;
import io.microraft.RaftRole;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A leader that hands leadership over (SIGTERM, its own removal) asks its successor to start an election at once, and
 * the others vote for it without waiting for the old leader's heartbeats to time out: so from then on the old leader's
 * lease promises nothing. Here its links are slow, so it hears of its successor's term only well after the successor
 * has acknowledged writes; until then it must not answer a {@code default} read from its own state.
 */
class LeaseHandOverTest {
    /** Each way, on both of the old leader's links: a round takes less than a third of a lease, and renews it. */
    private static final Duration SLOW = RaftTiming.HEARTBEAT_TIMEOUT.dividedBy(6);
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void aLeaderHandingOverServesNoDefaultReadOlderThanAWriteItsSuccessorAcknowledged() {
        try (TestCluster cluster = new TestCluster(dir, 3, 10_000).start()) {
            int old = cluster.awaitLeader();
            KvClient oldClient = cluster.client(old);
            List<Integer> others = IntStream.rangeClosed(1, 3).filter(id -> id != old).boxed().toList();
            assertThat(oldClient.put("k", "before").status()).isEqualTo(204);
            NetworkFaults faults = cluster.node(old).raft().transport().faults();
            others.forEach(id -> faults.set(id, new NetworkFaults.Link(0, SLOW)));
            // A heartbeat round over the slow links: the lease runs from when it was asked.
            assertThat(oldClient.get("k?level=consistent").body()).isEqualTo("before");

            // Whether MicroRaft reports the hand-over done or timed out (it hears of it late) does not matter here.
            cluster.node(old).raft().transferLeadership();
            int successor = await().atMost(PATIENCE).pollInterval(Duration.ofMillis(10))
                    .until(() -> others.stream().filter(id -> cluster.node(id).raft().role() == RaftRole.LEADER)
                            .findFirst().orElse(0), id -> id > 0);
            await().atMost(PATIENCE).pollInterval(Duration.ofMillis(10))
                    .until(() -> cluster.client(successor).put("k", "after").status() == 204);

            List<KvClient.Response> answers = new ArrayList<>();
            do {
                answers.add(oldClient.get("k?level=default"));
            } while (cluster.node(old).raft().role() == RaftRole.LEADER);
            faults.healAll();

            assertThat(answers).allSatisfy(answer -> assertThat(answer.status() == 503 || answer.status() == 200
                    && answer.body().equals("after")).as(answer.toString()).isTrue());
            await().atMost(PATIENCE).until(() -> oldClient.get("k?level=default").body().equals("after"));
        }
    }

    /** A request to start an election may still be on its way after MicroRaft gave the transfer up. */
    @Test
    void aLeaseEndedByAHandOverStaysEndedForTheRestOfItsTermEvenIfARoundConfirmsLeadership() {
        LeaderLease lease = new LeaderLease(Duration.ofSeconds(2));
        long now = System.nanoTime();
        lease.endForHandOver(3);
        lease.confirmedBy(3, now);

        assertThat(lease.holds(3, now)).isFalse();
    }

    @Test
    void aNodeThatLeadsALaterTermLeasesAgain() {
        LeaderLease lease = new LeaderLease(Duration.ofSeconds(2));
        lease.endForHandOver(3);
        long now = System.nanoTime();
        lease.confirmedBy(5, now);

        assertThat(lease.holds(5, now)).isTrue();
    }

    /** A follower's clock may run a little fast: it stops promising its vote before the leader's clock says so. */
    @Test
    void aLeaseEndsAMarginBeforeTheFollowersHeartbeatTimeout() {
        Duration timeout = Duration.ofSeconds(1);
        LeaderLease lease = LeaderLease.following(timeout);
        long asked = System.nanoTime();
        lease.confirmedBy(1, asked);
        long marginNanos = (long) (timeout.toNanos() * LeaderLease.DRIFT_MARGIN);

        assertThat(lease.holds(1, asked + timeout.toNanos() - marginNanos - 1)).isTrue();
        assertThat(lease.holds(1, asked + timeout.toNanos() - marginNanos)).isFalse();
    }
}
