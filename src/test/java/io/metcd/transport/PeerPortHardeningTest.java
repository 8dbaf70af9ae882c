package io.metcd.transport;

import io.metcd.codec.Codec;
import io.metcd.codec.Reader;
import io.metcd.model.Member;
import io.metcd.model.PeerMessage;
import io.metcd.raft.RaftLoop;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;
import io.metcd.testkit.TestCluster;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.message.VoteRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static io.metcd.transport.PeerWire.concat;
import static io.metcd.transport.PeerWire.frame;
import static io.metcd.transport.PeerWire.handshake;
import static io.metcd.transport.PeerWire.i32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The peer port of running nodes under abuse: a bad input costs only the connection it came on, and the cluster
 * keeps committing writes. PeerTransportTest checks the same inputs against a bare transport, down to the good
 * peers' connections staying up; CodecTest checks every malformed encoding.
 */
class PeerPortHardeningTest {
    private static final String GROUP = RaftLoop.GROUP_ID;
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final AtomicInteger WRITES = new AtomicInteger();
    /** A member id that no node of the cluster has. */
    private static final int STRANGER = 9;

    @TempDir
    static Path dir;
    static TestCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = new TestCluster(dir, 3, 1000).start();
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    @AfterEach
    void theClusterStillCommitsAWrite() {
        String key = "after-abuse-" + WRITES.incrementAndGet();
        assertThat(cluster.client(cluster.awaitLeader()).put(key, "fine")).returns(204, KvClient.Response::status);
        assertThat(cluster.client(cluster.aFollower()).get(key + "?level=consistent").body()).isEqualTo("fine");
    }

    private static VoteRequest voteFrom(Member sender, int term) {
        return new DefaultRaftModelFactory().createVoteRequestBuilder().setGroupId(GROUP).setSender(sender)
                .setTerm(term).setLastLogTerm(term).setLastLogIndex(Long.MAX_VALUE / 2).setSticky(false).build();
    }

    static Stream<Arguments> badInputs() {
        byte[] garbage = new byte[4096];
        new Random(11).nextBytes(garbage);
        byte[] otherVersion = handshake(GROUP, STRANGER);
        System.arraycopy(i32(Handshake.VERSION + 1), 0, otherVersion, Integer.BYTES, Integer.BYTES);
        byte[] vote = frame(voteFrom(new Member(STRANGER, PeerWire.NOWHERE), 1));
        byte[] unknownType = {(byte) 0x7f, 0, 0, 0, 0};
        return Stream.of(
                Arguments.of("random bytes", garbage, false),
                Arguments.of("a handshake of another cluster", concat(handshake("another-group", STRANGER), vote), false),
                Arguments.of("a handshake of another protocol version", concat(otherVersion, vote), false),
                Arguments.of("a frame length over the limit", concat(handshake(GROUP, STRANGER), i32(Integer.MAX_VALUE)),
                        false),
                Arguments.of("a negative frame length", concat(handshake(GROUP, STRANGER), i32(-1)), false),
                Arguments.of("a frame of a message type that does not exist",
                        concat(handshake(GROUP, STRANGER), i32(unknownType.length), unknownType), false),
                Arguments.of("a frame cut short, then the end of the connection",
                        concat(handshake(GROUP, STRANGER), Arrays.copyOf(vote, vote.length - 3)), true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void aBadInputClosesItsConnectionOnEveryNode(String what, byte[] bytes, boolean thenEndOutput) throws IOException {
        for (int id = 1; id <= cluster.size(); id++) {
            PeerWire.assertConnectionClosedAfter(cluster.peerPort(id), bytes, thenEndOutput);
        }
    }

    @Test
    void aStrangerWithAValidHandshakeIsToldByTheLeaderThatItIsNotAMemberAndMovesNoTerm() throws IOException {
        int leader = cluster.awaitLeader();
        int forgedTerm = cluster.node(leader).raft().term() + 100;
        try (ServerSocket strangersPort = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                Socket toLeader = new Socket(InetAddress.getLoopbackAddress(), cluster.peerPort(leader))) {
            Member stranger = new Member(STRANGER, "http://127.0.0.1:" + strangersPort.getLocalPort());
            toLeader.getOutputStream().write(concat(handshake(GROUP, STRANGER), frame(voteFrom(stranger, forgedTerm))));

            assertThat(firstMessageTo(strangersPort)).isEqualTo(new PeerMessage.NotAMember(leader));
        }
        for (int id = 1; id <= cluster.size(); id++) {
            assertThat(cluster.node(id).raft().term()).isLessThan(forgedTerm);
        }
    }

    /** Accepts the first connection a node dials to {@code port}, checks its handshake and reads its first message. */
    private static Object firstMessageTo(ServerSocket port) throws IOException {
        port.setSoTimeout((int) PATIENCE.toMillis());
        try (Socket dialed = port.accept()) {
            dialed.setSoTimeout((int) PATIENCE.toMillis());
            DataInputStream in = new DataInputStream(new BufferedInputStream(dialed.getInputStream()));
            Handshake.read(in, GROUP);
            byte[] payload = in.readNBytes(in.readInt());
            return Codec.readMessage(new Reader(ByteBuffer.wrap(payload)));
        }
    }

    /**
     * A node with the heap bin/metcd gives it (1 GiB), and more connections announcing the largest frame than that
     * heap could hold: were announced lengths allocated before their bytes arrive, it would exit out of memory.
     */
    @Test
    void framesAnnouncedAtTheSizeLimitTakeNoMemoryBeforeTheirBytesArrive(@TempDir Path processDir) throws IOException {
        int connections = 12;
        List<Socket> sockets = new ArrayList<>();
        try (ProcessCluster node = new ProcessCluster(processDir, 1, "map").start()) {
            for (int i = 0; i < connections; i++) {
                Socket socket = new Socket(InetAddress.getLoopbackAddress(), node.peerPort(1));
                sockets.add(socket);
                // Each from another member id, as a peer that dials again replaces its previous connection.
                socket.getOutputStream().write(concat(handshake(GROUP, 100 + i),
                        i32(PeerTransport.DEFAULT_MAX_FRAME_LENGTH), new byte[] {1, 2, 3}));
            }

            await().during(Duration.ofSeconds(3)).atMost(PATIENCE).until(() -> node.isRunning(1));
            assertThat(node.client(1).put("still", "here")).returns(204, KvClient.Response::status);
        } finally {
            for (Socket socket : sockets) {
                socket.close();
            }
        }
    }
}
