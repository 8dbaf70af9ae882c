package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Run-time membership through the cluster API: add as learner, promote, remove, and the refusals. */
class MembershipTest {
    @TempDir
    Path dir;

    private static String members(KvClient client) {
        return client.get("-/members").body();
    }

    @Test
    void anAddedNodeJoinsAsALearnerAndBecomesAVoterOnceCaughtUp() {
        try (TestCluster cluster = new TestCluster(dir, 3, 20).start()) {
            KvClient leader = cluster.client(cluster.awaitLeader());
            for (int i = 0; i < 100; i++) {
                leader.put("key" + i, "v" + i);
            }
            String url = cluster.declareMember();
            KvClient follower = cluster.client(cluster.aFollower());
            assertThat(follower.send("POST", "-/members/4", url)).returns(201, KvClient.Response::status);
            assertThat(members(leader)).contains("{\"id\":4,\"peerURL\":\"" + url + "\",\"clientURL\":null,\"role\":\"learner\"}");

            cluster.start(4, true);
            await().atMost(Duration.ofSeconds(20)).until(() -> members(leader).contains("\"id\":4")
                    && members(leader).matches(".*\"id\":4,[^}]*\"role\":\"follower\".*"));
            KvClient joined = cluster.client(4);
            await().atMost(Duration.ofSeconds(10)).until(() -> "v99".equals(joined.get("key99?level=stale").body()));
            assertThat(cluster.node(4).raft().lastSnapshotIndex()).isPositive();
            assertThat(joined.put("from-4", "x")).returns(204, KvClient.Response::status);
        }
    }

    @Test
    void aMemberAddedButNotStartedStaysALearner() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            KvClient leader = cluster.client(cluster.awaitLeader());
            String url = cluster.declareMember();
            assertThat(leader.send("POST", "-/members/4", url)).returns(201, KvClient.Response::status);
            String learner = "{\"id\":4,\"peerURL\":\"" + url + "\",\"clientURL\":null,\"role\":\"learner\"}";
            await().during(MembershipChanges.PROMOTION_CHECK.multipliedBy(8))
                    .atMost(MembershipChanges.PROMOTION_CHECK.multipliedBy(12))
                    .until(() -> members(leader).contains(learner));
        }
    }

    @Test
    void aRemovedFollowerStopsAndTheOthersCarryOn() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int follower = cluster.aFollower();
            KvClient leader = cluster.client(cluster.awaitLeader());
            assertThat(leader.send("DELETE", "-/members/" + follower, null)).returns(204, KvClient.Response::status);
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.stoppedAsRemoved(follower));
            assertThat(members(leader)).doesNotContain("\"id\":" + follower + ",");
            assertThat(leader.put("k", "v")).returns(204, KvClient.Response::status);
        }
    }

    @Test
    void removingTheLeaderHandsLeadershipOverFirst() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int oldLeader = cluster.awaitLeader();
            KvClient client = cluster.client(oldLeader);
            assertThat(client.send("DELETE", "-/members/" + oldLeader, null)).returns(204, KvClient.Response::status);
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.stoppedAsRemoved(oldLeader));
            int newLeader = cluster.awaitLeader();
            assertThat(newLeader).isNotEqualTo(oldLeader);
            assertThat(cluster.client(newLeader).put("k", "v")).returns(204, KvClient.Response::status);
        }
    }

    @Test
    void aRemovedNodeRestartedWithItsOldFlagsIsToldWhyAndStops() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int follower = cluster.aFollower();
            KvClient leader = cluster.client(cluster.awaitLeader());
            cluster.stop(follower);
            assertThat(leader.send("DELETE", "-/members/" + follower, null)).returns(204, KvClient.Response::status);
            int term = cluster.node(cluster.awaitLeader()).raft().term();
            cluster.start(follower);
            await().atMost(Duration.ofSeconds(15)).until(() -> cluster.stoppedAsRemoved(follower));
            assertThat(cluster.node(cluster.awaitLeader()).raft().term()).isEqualTo(term);
        }
    }

    @Test
    void badMembershipRequestsAreRefusedAndChangeNothing() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            KvClient leader = cluster.client(cluster.awaitLeader());
            String before = members(leader);
            assertThat(leader.send("DELETE", "-/members/9", null)).returns(404, KvClient.Response::status);
            assertThat(leader.send("POST", "-/members/2", "http://127.0.0.1:1")).returns(409, KvClient.Response::status);
            String taken = before.replaceAll("(?s).*\"id\":2,\"peerURL\":\"([^\"]+)\".*", "$1");
            assertThat(leader.send("POST", "-/members/4", taken)).returns(409, KvClient.Response::status);
            assertThat(leader.send("POST", "-/members/4", "not a url")).returns(400, KvClient.Response::status);
            assertThat(leader.send("POST", "-/members/four", "http://127.0.0.1:1")).returns(400, KvClient.Response::status);
            assertThat(leader.send("POST", "-/members/0", "http://127.0.0.1:1")).returns(400, KvClient.Response::status);
            assertThat(members(leader)).isEqualTo(before);
        }
    }

    @Test
    void removingAVoterThatWouldLeaveNoReachableQuorumIsRefused() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leaderId = cluster.awaitLeader();
            KvClient leader = cluster.client(leaderId);
            int[] followers = java.util.stream.IntStream.rangeClosed(1, 3).filter(id -> id != leaderId).toArray();
            cluster.stop(followers[0]);
            RaftLoop raft = cluster.node(leaderId).raft();
            await().until(() -> raft.clock().elapsedSince(raft.report().getHeartbeatTimestamps()
                    .get(new Member(followers[0], "-"))).compareTo(MembershipChanges.ALIVE_WITHIN) > 0);
            KvClient.Response refused = leader.send("DELETE", "-/members/" + followers[1], null);
            assertThat(refused).returns(409, KvClient.Response::status);
            assertThat(refused.body()).contains("not a quorum");
            assertThat(members(leader)).contains("\"id\":" + followers[1] + ",");
        }
    }

    @Test
    void removingTheLastMemberIsRefusedAndItKeepsLeading() {
        try (TestCluster cluster = new TestCluster(dir, 1, 1000).start()) {
            KvClient.Response refused = cluster.client(1).send("DELETE", "-/members/1", null);
            assertThat(refused).returns(409, KvClient.Response::status);
            assertThat(refused.body()).contains("not a quorum");
            assertThat(cluster.node(1).raft().isLeader()).isTrue();
        }
    }

    @Test
    void aSecondChangeWhileOneIsInFlightGets409() {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leaderId = cluster.awaitLeader();
            KvClient leader = cluster.client(leaderId);
            String url4 = cluster.declareMember();
            String url5 = cluster.declareMember();
            for (int id = 1; id <= 3; id++) {
                if (id != leaderId) {
                    cluster.stop(id);
                }
            }
            // Without a quorum the first change cannot commit, so it stays in flight.
            CompletableFuture<KvClient.Response> first =
                    CompletableFuture.supplyAsync(() -> leader.send("POST", "-/members/4", url4));
            await().until(() -> cluster.node(leaderId).raft().members().size() == 4 || first.isDone());
            assertThat(leader.send("POST", "-/members/5", url5)).returns(409, KvClient.Response::status);
            assertThat(first.join().status()).isEqualTo(503);
        }
    }
}
