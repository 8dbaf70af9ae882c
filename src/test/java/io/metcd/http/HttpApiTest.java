package io.metcd.http;

import io.metcd.kv.ReadLevel;
import io.metcd.model.Member;
import io.metcd.model.Unavailable;
import io.metcd.raft.MembershipException;
import io.metcd.testkit.KvClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every status code of the client API contract, with a fake store and a fake cluster behind the API: what the HTTP
 * layer does is parse requests and turn outcomes into status codes.
 */
class HttpApiTest {
    @RegisterExtension
    static final ApiUnderTest api = new ApiUnderTest();
    static final KvClient client = api.client;
    /** Member 2, which leads in the tests where this node does not. */
    @RegisterExtension
    static final ApiUnderTest other = new ApiUnderTest(2, Optional.empty());

    // ---------------------------------------------------------------------------------------- keys

    @Test
    void putAnswers204AndGetReturnsTheValue() {
        assertThat(client.put("greeting", "hello world")).returns(204, KvClient.Response::status);
        KvClient.Response got = client.get("greeting");
        assertThat(got).returns(200, KvClient.Response::status);
        assertThat(got.body()).isEqualTo("hello world");
    }

    @Test
    void keysMayContainSlashesAndPercentEncodedBytes() {
        assertThat(client.put("a/b/c", "nested")).returns(204, KvClient.Response::status);
        assertThat(client.get("a%2Fb%2Fc").body()).isEqualTo("nested");
        assertThat(client.put("sp%20ace", "x")).returns(204, KvClient.Response::status);
        assertThat(api.store.keys()).contains("a/b/c", "sp ace");
    }

    @Test
    void getOfAnAbsentKeyAnswers404WithAReason() {
        KvClient.Response got = client.get("never-written");
        assertThat(got).returns(404, KvClient.Response::status);
        assertThat(got.body()).isEqualTo("key not found\n");
    }

    @Test
    void deleteAnswers204EvenForAnAbsentKey() {
        client.put("doomed", "x");
        assertThat(client.delete("doomed")).returns(204, KvClient.Response::status);
        assertThat(client.get("doomed")).returns(404, KvClient.Response::status);
        assertThat(client.delete("doomed")).returns(204, KvClient.Response::status);
    }

    @Test
    void aReadAsksTheStoreForItsLevelDefaultUnlessNamed() {
        client.get("k?level=stale");
        client.get("k?level=default");
        client.get("k?level=consistent");
        client.get("k");
        assertThat(api.store.readLevels).containsExactly(ReadLevel.STALE, ReadLevel.DEFAULT, ReadLevel.CONSISTENT,
                ReadLevel.DEFAULT);
    }

    @Test
    void anUnknownReadLevelAnswers400() {
        KvClient.Response got = client.get("k?level=eventual");
        assertThat(got).returns(400, KvClient.Response::status);
        assertThat(got.body()).contains("level");
    }

    @Test
    void anEmptyKeyAnswers400() {
        assertThat(client.put("", "x")).returns(400, KvClient.Response::status);
        assertThat(client.get("")).returns(400, KvClient.Response::status);
    }

    @Test
    void aKeyOver4096BytesAnswers413AndNothingIsStored() {
        assertThat(client.put("k".repeat(4097), "x")).returns(413, KvClient.Response::status);
        assertThat(api.store.keys()).isEmpty();
        assertThat(client.put("k".repeat(4096), "x")).returns(204, KvClient.Response::status);
    }

    @Test
    void aValueOver1MiBAnswers413AndNothingIsStored() {
        assertThat(client.put("big", "v".repeat((1 << 20) + 1))).returns(413, KvClient.Response::status);
        assertThat(api.store.keys()).isEmpty();
        assertThat(client.put("big", "v".repeat(1 << 20))).returns(204, KvClient.Response::status);
        assertThat(client.get("big").body()).hasSize(1 << 20);
    }

    @Test
    void anUnsupportedMethodAnswers405() {
        assertThat(client.send("POST", "some-key", "x")).returns(405, KvClient.Response::status);
        assertThat(client.send("PATCH", "some-key", "x")).returns(405, KvClient.Response::status);
    }

    @Test
    void aWriteOrReadTheStoreCannotServeInTimeAnswers503WithRetryAfter() {
        api.store.unavailable = "no leader";
        KvClient.Response write = client.put("k", "v");
        assertThat(write).returns(503, KvClient.Response::status).returns("no leader\n", KvClient.Response::body);
        assertThat(write.header("Retry-After")).isEqualTo("1");
        assertThat(client.get("k?level=consistent")).returns(503, KvClient.Response::status);
        assertThat(client.delete("k")).returns(503, KvClient.Response::status);
    }

    // ---------------------------------------------------------------------------------- cluster API

    @Test
    void anUnknownClusterPathAnswers404() {
        assertThat(client.get("-/nothing-here")).returns(404, KvClient.Response::status);
    }

    @Test
    void statusNamesTheNodeItsRoleTheLeaderTheIndexesAndTheEngine() {
        client.put("k", "v");
        assertThat(client.get("-/status").body()).startsWith("{\"id\":1,\"role\":\"leader\",\"term\":2,\"leaderId\":1,"
                + "\"commitIndex\":7,\"appliedIndex\":1,\"lastSnapshotIndex\":3,\"engine\":\"fake\",\"pid\":"
                + ProcessHandle.current().pid() + "}");
    }

    @Test
    void healthAnswers200WhileTheNodeHasALeaderAndItsStoreApplies() {
        assertThat(client.get("-/health")).returns(200, KvClient.Response::status);
        api.cluster.leader = 0;
        assertThat(client.get("-/health")).returns(503, KvClient.Response::status)
                .returns("no leader\n", KvClient.Response::body);
        api.cluster.leader = 1;
        api.store.applying = false;
        assertThat(client.get("-/health")).returns(503, KvClient.Response::status);
    }

    @Test
    void membersListsIdPeerUrlClientUrlAndRole() {
        assertThat(client.get("-/members").body())
                .isEqualTo("[{\"id\":1,\"peerURL\":\"http://127.0.0.1:1\",\"clientURL\":null,\"role\":\"leader\"}]");
    }

    @Test
    void addingAMemberOnTheLeaderAnswers201() {
        assertThat(client.send("POST", "-/members/4", "http://127.0.0.1:13382")).returns(201, KvClient.Response::status);
        assertThat(api.cluster.members).contains(new Member(4, "http://127.0.0.1:13382"));
    }

    @Test
    void aMalformedMemberIdOrPeerUrlAnswers400AndChangesNothing() {
        assertThat(client.send("POST", "-/members/4", "not a url")).returns(400, KvClient.Response::status);
        assertThat(client.send("POST", "-/members/four", "http://127.0.0.1:1")).returns(400, KvClient.Response::status);
        assertThat(client.send("POST", "-/members/0", "http://127.0.0.1:1")).returns(400, KvClient.Response::status);
        assertThat(client.send("DELETE", "-/members/-3", null)).returns(400, KvClient.Response::status);
        assertThat(api.cluster.members).hasSize(1);
    }

    @Test
    void aRefusedMembershipChangeAnswersTheStatusOfItsReason() {
        assertThat(client.send("DELETE", "-/members/9", null)).returns(404, KvClient.Response::status);
        api.cluster.failure = new MembershipException(MembershipException.Reason.CONFLICT, "in progress");
        assertThat(client.send("POST", "-/members/4", "http://127.0.0.1:2")).returns(409, KvClient.Response::status);
        api.cluster.failure = new MembershipException(MembershipException.Reason.UNAVAILABLE, "not committed");
        KvClient.Response unavailable = client.send("POST", "-/members/4", "http://127.0.0.1:2");
        assertThat(unavailable).returns(503, KvClient.Response::status);
        assertThat(unavailable.header("Retry-After")).isEqualTo("1");
    }

    @Test
    void aFollowerPassesAMembershipChangeToTheLeaderAndRelaysItsAnswer() {
        api.cluster.leader = 2;
        api.cluster.leaderClientUrl = "http://127.0.0.1:" + other.port;
        assertThat(client.send("POST", "-/members/4", "http://127.0.0.1:13382"))
                .returns(201, KvClient.Response::status);
        assertThat(other.cluster.members).contains(new Member(4, "http://127.0.0.1:13382"));
        assertThat(api.cluster.members).hasSize(1);
    }

    @ParameterizedTest
    @CsvSource({"NOT_FOUND, 404", "CONFLICT, 409", "NOT_LEADER, 503", "UNAVAILABLE, 503"})
    void aFollowerAnswersTheLeadersRefusalWithItsStatusAndReason(MembershipException.Reason reason, int status) {
        api.cluster.leader = 2;
        api.cluster.leaderClientUrl = "http://127.0.0.1:" + other.port;
        other.cluster.failure = new MembershipException(reason, "the leader's reason");
        KvClient.Response answer = client.send("POST", "-/members/4", "http://127.0.0.1:13382");
        assertThat(answer).returns(status, KvClient.Response::status);
        assertThat(answer.body()).isEqualTo("the leader's reason\n");
        assertThat(answer.header("Retry-After")).isEqualTo(status == 503 ? "1" : null);
    }

    @Test
    void removingTheLeaderItselfHandsLeadershipOverAndAsksTheNewLeader() {
        other.cluster.members.add(new Member(1, "http://127.0.0.1:1"));
        api.cluster.nextLeader = 2;
        api.cluster.leaderClientUrl = "http://127.0.0.1:" + other.port;
        assertThat(client.send("DELETE", "-/members/1", null)).returns(204, KvClient.Response::status);
        assertThat(api.cluster.isLeader()).isFalse();
        assertThat(other.cluster.members).extracting(Member::id).containsExactly(2);
    }

    @Test
    void aMembershipChangeWithNoLeaderToAskAnswers503() {
        api.cluster.leader = 0;
        assertThat(client.send("POST", "-/members/4", "http://127.0.0.1:2")).returns(503, KvClient.Response::status);
    }

    @Test
    void aSnapshotAnswersItsIndexOr503WhenNotTakenInTime() {
        assertThat(client.send("POST", "-/snapshot", null).body()).isEqualTo("{\"index\":7}");
        api.cluster.failure = new Unavailable("snapshot not taken in time");
        assertThat(client.send("POST", "-/snapshot", null)).returns(503, KvClient.Response::status);
    }
}
