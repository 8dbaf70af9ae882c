package io.metcd.raft;

import com.sun.net.httpserver.HttpServer;
import io.metcd.model.Member;
import io.metcd.model.Unavailable;
import io.metcd.raft.MembershipException.Reason;
import io.metcd.raft.MembershipRequests.Done;
import io.metcd.raft.MembershipRequests.NotDone;
import io.metcd.testkit.FakeCluster;
import io.metcd.testkit.Ports;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What becomes of a membership change asked of this node (member 1), with a fake cluster under it and, where this
 * node does not lead, a stand-in for the leader's client API that answers what a test says.
 */
class MembershipRequestsTest {
    private static final String URL = "http://127.0.0.1:13382";
    private static HttpServer leaderApi;
    private static final List<String> askedOfLeader = new CopyOnWriteArrayList<>();
    private static volatile int leaderStatus;
    private static volatile String leaderBody;

    private final FakeCluster cluster = new FakeCluster(1);
    private final MembershipRequests requests = new MembershipRequests(cluster);

    @BeforeAll
    static void startLeaderApi() throws IOException {
        leaderApi = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), Ports.free()), 0);
        leaderApi.createContext("/", exchange -> {
            askedOfLeader.add(exchange.getRequestMethod() + " " + exchange.getRequestURI() + " "
                    + new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            byte[] body = leaderBody.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(leaderStatus, body.length == 0 ? -1 : body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        leaderApi.start();
    }

    @AfterAll
    static void stopLeaderApi() {
        leaderApi.stop(0);
    }

    /** Member 2 leads, and its client API answers {@code status} with {@code body}. */
    private void leaderAnswers(int status, String body) {
        askedOfLeader.clear();
        leaderStatus = status;
        leaderBody = body;
        cluster.leader = 2;
        cluster.leaderClientUrl = "http://127.0.0.1:" + leaderApi.getAddress().getPort();
    }

    @Test
    void anAdditionOnTheLeaderIsMadeHere() throws Exception {
        assertThat(requests.add("4", URL)).isEqualTo(new Done(4));
        assertThat(cluster.members).contains(new Member(4, URL));
    }

    @ParameterizedTest
    @ValueSource(strings = {"four", "0", "-3", "2147483648", ""})
    void anIdThatIsNotAPositiveIntegerIsABadRequest(String id) throws Exception {
        NotDone expected = new NotDone(Reason.BAD_REQUEST, "member id must be a positive integer, not '" + id + "'");
        assertThat(requests.add(id, URL)).isEqualTo(expected);
        assertThat(requests.remove(id)).isEqualTo(expected);
        assertThat(cluster.members).hasSize(1);
    }

    @Test
    void aPeerUrlThatIsNotHttpHostPortIsABadRequest() throws Exception {
        assertThat(requests.add("4", "not a url"))
                .isEqualTo(new NotDone(Reason.BAD_REQUEST, "bad peer URL 'not a url': want http://host:port"));
        assertThat(cluster.members).hasSize(1);
    }

    @Test
    void aChangeTheClusterRefusesKeepsItsReasonAndMessage() throws Exception {
        assertThat(requests.remove("9")).isEqualTo(new NotDone(Reason.NOT_FOUND, "no member 9"));
    }

    @Test
    void aChangeNotCommittedInTimeIsUnavailable() throws Exception {
        cluster.failure = new Unavailable("membership change not committed in time: timeout");
        assertThat(requests.add("4", URL))
                .isEqualTo(new NotDone(Reason.UNAVAILABLE, "membership change not committed in time: timeout"));
    }

    @Test
    void aFollowerAsksTheLeadersClientApiForTheChange() throws Exception {
        leaderAnswers(201, "member 4 added as a learner; start it with --join\n");
        assertThat(requests.add("4", " " + URL + "\n")).isEqualTo(new Done(4));
        assertThat(askedOfLeader).containsExactly("POST /-/members/4 " + URL);
        assertThat(cluster.members).hasSize(1);
    }

    @Test
    void theLeaderRemovingItselfHandsOverThenAsksTheNewLeader() throws Exception {
        leaderAnswers(204, "");
        cluster.leader = 1;
        cluster.nextLeader = 2;
        assertThat(requests.remove("1")).isEqualTo(new Done(1));
        assertThat(cluster.isLeader()).isFalse();
        assertThat(askedOfLeader).containsExactly("DELETE /-/members/1 ");
    }

    @Test
    void aHandOverThatFindsNoNewLeaderIsUnavailableAndAsksNoOne() throws Exception {
        leaderAnswers(204, "");
        cluster.leader = 1;
        cluster.failure = new Unavailable("no new leader after the hand-over");
        assertThat(requests.remove("1"))
                .isEqualTo(new NotDone(Reason.UNAVAILABLE, "no new leader after the hand-over"));
        assertThat(askedOfLeader).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({"400, BAD_REQUEST", "404, NOT_FOUND", "409, CONFLICT", "503, UNAVAILABLE"})
    void aRefusalOfTheLeaderComesBackWithItsReasonAndMessage(int status, Reason reason) throws Exception {
        leaderAnswers(status, "the leader's reason\n");
        assertThat(requests.remove("3")).isEqualTo(new NotDone(reason, "the leader's reason"));
    }

    @Test
    void withNoLeaderKnownAChangeIsUnavailable() throws Exception {
        cluster.leader = 0;
        assertThat(requests.add("4", URL))
                .isEqualTo(new NotDone(Reason.UNAVAILABLE, "no leader whose client URL is known"));
    }

    @Test
    void aLeaderThatDoesNotAnswerLeavesTheChangeUnavailable() throws Exception {
        cluster.leader = 2;
        cluster.leaderClientUrl = "http://127.0.0.1:" + Ports.free();
        assertThat(requests.remove("3")).isInstanceOfSatisfying(NotDone.class, notDone -> {
            assertThat(notDone.reason()).isEqualTo(Reason.UNAVAILABLE);
            assertThat(notDone.message()).startsWith("the leader at " + cluster.leaderClientUrl + " did not answer");
        });
    }

    @Test
    void anAnswerOfTheLeaderOutsideTheClientApiIsADefect() {
        leaderAnswers(500, "Server Error\n");
        assertThatThrownBy(() -> requests.remove("3")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("answered 500 to DELETE /-/members/3: Server Error");
    }
}
