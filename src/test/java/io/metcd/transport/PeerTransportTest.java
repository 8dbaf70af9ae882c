package io.metcd.transport;

import io.metcd.model.Command;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.RaftMessage;
import io.microraft.model.message.VoteRequest;
import io.microraft.model.message.VoteResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.metcd.transport.PeerWire.concat;
import static io.metcd.transport.PeerWire.frame;
import static io.metcd.transport.PeerWire.handshake;
import static io.metcd.transport.PeerWire.i32;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeout;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeerTransportTest {
    private static final DefaultRaftModelFactory MODEL = new DefaultRaftModelFactory();
    private static final String GROUP = "metcd-test";
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final List<AutoCloseable> resources = new ArrayList<>();

    /** A transport and everything it received. */
    private record Node(Member member, PeerTransport transport, List<Object> received) {
        void send(Node to, Object message) {
            if (message instanceof RaftMessage raft) {
                transport.send(to.member, raft);
            } else {
                transport.send(to.member, (PeerMessage) message);
            }
        }
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
    }

    // ------------------------------------------------------------------------------------- helpers

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Member member(int id) throws IOException {
        return new Member(id, "http://127.0.0.1:" + freePort());
    }

    private Node node(Member member, int maxFrameLength) {
        List<Object> received = new CopyOnWriteArrayList<>();
        PeerTransport transport = new PeerTransport(member, "http://127.0.0.1:1", GROUP, received::add, maxFrameLength);
        resources.add(transport);
        return new Node(member, transport, received);
    }

    private Node started(Member member) {
        Node node = node(member, PeerTransport.DEFAULT_MAX_FRAME_LENGTH);
        node.transport.start();
        return node;
    }

    private static VoteRequest vote(Member sender, int term) {
        return voteOfGroup(GROUP, sender, term);
    }

    private static VoteRequest voteOfGroup(String group, Member sender, int term) {
        return MODEL.createVoteRequestBuilder().setGroupId(group).setSender(sender).setTerm(term).setLastLogTerm(1)
                .setLastLogIndex(2).setSticky(false).build();
    }

    /** A marker that can be told apart from others by equality. */
    private static PeerMessage marker(int from, long id) {
        return new PeerMessage.ReadIndexRequest(from, id, false);
    }

    /** Delivers {@code message} from {@code from} to {@code to}, resending as Raft would until it arrives. */
    private static void deliver(Node from, Node to, PeerMessage message) {
        await().atMost(PATIENCE).untilAsserted(() -> {
            from.send(to, message);
            assertTrue(to.received.contains(message));
        });
    }

    /**
     * Brings up the connection from {@code from} to {@code to}, both started: returns once a message went
     * through it. One send is enough, as the listener is up before the sender dials.
     */
    private static void link(Node from, Node to) {
        PeerMessage hello = marker(from.member.id(), -1);
        from.send(to, hello);
        await().atMost(PATIENCE).until(() -> to.received.contains(hello));
    }

    /**
     * Checks the victim of a protocol violation: it closed that connection (checked before this), kept the
     * connection of a good peer open, and still delivers from it.
     */
    private static void assertStillServes(Node good, Node victim) {
        PeerMessage after = marker(good.member.id(), 99);
        good.send(victim, after);
        await().atMost(PATIENCE).until(() -> victim.received.contains(after));
        assertEquals(0, good.transport.reconnects(), "the good peer's connection was not disturbed");
    }

    /** Writes {@code bytes} on a raw connection to {@code victim} and checks that the victim closes it. */
    private static void assertConnectionClosedAfter(Node victim, byte[] bytes, boolean thenEndOutput) throws IOException {
        PeerWire.assertConnectionClosedAfter(victim.member.port(), bytes, thenEndOutput);
    }

    // ------------------------------------------------------------------------------------ delivery

    @Test
    void twoTransportsExchangeRaftAndPeerMessagesBothWays() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        var proposal = new Operation.Proposal(1, 5, Command.put("k", "v".getBytes()));
        AppendEntriesRequest append = MODEL.createAppendEntriesRequestBuilder().setGroupId(GROUP).setSender(a.member)
                .setTerm(3).setPreviousLogTerm(2).setPreviousLogIndex(4).setCommitIndex(4)
                .setLogEntries(List.of(MODEL.createLogEntryBuilder().setIndex(5).setTerm(3)
                        .setOperation(new Operation.Batch(0, List.of(proposal))).build()))
                .setQuerySequenceNumber(1).setFlowControlSequenceNumber(2).build();
        VoteResponse voteResponse = MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(b.member).setTerm(3)
                .setGranted(true).build();

        a.send(b, vote(a.member, 3));
        a.send(b, append);
        a.send(b, new PeerMessage.ReadIndexRequest(1, 11, true));
        b.send(a, voteResponse);
        b.send(a, new PeerMessage.ReadIndexResponse(2, 11, 42));

        await().atMost(PATIENCE).until(() -> b.received.size() == 3 && a.received.size() == 2);
        assertEquals(3, assertInstanceOf(VoteRequest.class, b.received.get(0)).getTerm());
        AppendEntriesRequest appended = assertInstanceOf(AppendEntriesRequest.class, b.received.get(1));
        assertEquals(a.member, appended.getSender());
        var batch = assertInstanceOf(Operation.Batch.class, appended.getLogEntries().getFirst().getOperation());
        assertEquals("k", assertInstanceOf(Command.Put.class, batch.proposals().getFirst().command()).key());
        assertEquals(new PeerMessage.ReadIndexRequest(1, 11, true), b.received.get(2));
        assertTrue(assertInstanceOf(VoteResponse.class, a.received.get(0)).isGranted());
        assertEquals(new PeerMessage.ReadIndexResponse(2, 11, 42), a.received.get(1));
        assertTrue(a.transport.isReachable(b.member));
        assertTrue(b.transport.isReachable(a.member));
    }

    @Test
    void theConnectionsToAndFromAPeerThatStopsAreReportedLost() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        List<Integer> lost = new CopyOnWriteArrayList<>();
        a.transport.onConnectionLost(lost::add);
        link(a, b);
        link(b, a);

        b.transport.close();
        await().atMost(PATIENCE).until(() -> lost.contains(b.member.id()));
        lost.clear();
        // A write into a connection the peer closed may still succeed; one of the next fails, or the redial does.
        await().atMost(PATIENCE).until(() -> {
            a.send(b, marker(1, 1));
            return lost.contains(b.member.id());
        });
        assertThat(lost).containsOnly(b.member.id());
    }

    @Test
    void sendToADownPeerDoesNotBlockAndMessagesFlowOnceItIsUp() throws IOException {
        Node a = started(member(1));
        Node b = node(member(2), PeerTransport.DEFAULT_MAX_FRAME_LENGTH);

        assertTimeout(Duration.ofSeconds(1), () -> {
            for (int i = 0; i < 100; i++) {
                a.send(b, marker(1, i));
            }
        });
        assertFalse(a.transport.isReachable(b.member));

        b.transport.start();
        deliver(a, b, marker(1, 1000));
        assertTrue(a.transport.isReachable(b.member));
    }

    @Test
    void peerMessagesForAPeerThatCannotBeDialedAreReportedUndelivered() throws IOException {
        Node a = started(member(1));
        Node down = node(member(2), PeerTransport.DEFAULT_MAX_FRAME_LENGTH);
        List<PeerMessage> undelivered = new CopyOnWriteArrayList<>();
        a.transport.onUndelivered(undelivered::add);

        List<PeerMessage> sent = List.of(marker(1, 1), marker(1, 2), marker(1, 3));
        sent.forEach(m -> a.send(down, m));

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(undelivered).containsExactlyInAnyOrderElementsOf(sent));
    }

    /** Raft resends what it needs by itself; only metcd's own messages are reported. */
    @Test
    void raftMessagesThatCannotBeDeliveredAreNotReported() throws IOException {
        Node a = started(member(1));
        Node down = node(member(2), PeerTransport.DEFAULT_MAX_FRAME_LENGTH);
        List<PeerMessage> undelivered = new CopyOnWriteArrayList<>();
        a.transport.onUndelivered(undelivered::add);

        a.send(down, vote(a.member, 1));
        PeerMessage after = marker(1, 1);
        a.send(down, after);

        await().atMost(PATIENCE).untilAsserted(() -> assertThat(undelivered).contains(after));
        assertThat(undelivered).containsOnly(after);
    }

    /** A message lost with a connection may have arrived: it is not reported as certainly undelivered. */
    @Test
    void messagesDeliveredBeforeThePeerStopsAreNotReported() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        List<PeerMessage> undelivered = new CopyOnWriteArrayList<>();
        a.transport.onUndelivered(undelivered::add);
        link(a, b);
        PeerMessage delivered = marker(1, 7);
        deliver(a, b, delivered);

        b.transport.close();
        await().atMost(PATIENCE).until(() -> {
            a.send(b, marker(1, 8));
            return undelivered.contains(marker(1, 8));
        });
        assertThat(undelivered).doesNotContain(delivered);
    }

    @Test
    void reconnectsAfterThePeerRestarts() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);

        b.transport.close();
        Node restarted = started(b.member);
        deliver(a, restarted, marker(1, 2));
        assertEquals(1, a.transport.reconnects());
    }

    @Test
    void aFrameFarLargerThanTheReadBufferArrivesWhole() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        byte[] value = new byte[3 << 20];
        new Random(3).nextBytes(value);

        a.send(b, new PeerMessage.ForwardedProposals(1, 1, List.of(new Operation.Proposal(1, 1, Command.put("big", value)))));

        await().atMost(PATIENCE).until(() -> !b.received.isEmpty());
        var forwarded = assertInstanceOf(PeerMessage.ForwardedProposals.class, b.received.getFirst());
        assertArrayEquals(value, assertInstanceOf(Command.Put.class, forwarded.proposals().getFirst().command()).value());
    }

    @Test
    void messagesToItselfAreIgnored() throws IOException {
        Node a = started(member(1));
        a.send(a, marker(1, 1));
        a.send(a, vote(a.member, 1));
        assertTrue(a.transport.queueDepths().isEmpty(), "no link to itself");
    }

    @Test
    void raftMessageOfAnotherGroupIsDropped() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));

        a.send(b, voteOfGroup("another-group", a.member, 7));
        a.send(b, vote(a.member, 8));

        await().atMost(PATIENCE).until(() -> !b.received.isEmpty());
        // One connection delivers in order: had the first vote been delivered, it would come first.
        assertEquals(8, assertInstanceOf(VoteRequest.class, b.received.getFirst()).getTerm());
        assertEquals(1, b.received.size());
    }

    // ----------------------------------------------------------------------------- protocol violations

    @Test
    void randomBytesOnThePeerPortCloseOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        byte[] garbage = new byte[4096];
        new Random(1).nextBytes(garbage);
        assertConnectionClosedAfter(victim, garbage, false);

        assertStillServes(good, victim);
    }

    @Test
    void handshakeWithAnotherProtocolVersionClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        byte[] handshake = handshake(GROUP, 9);
        System.arraycopy(i32(Handshake.VERSION + 1), 0, handshake, Integer.BYTES, Integer.BYTES);
        assertConnectionClosedAfter(victim, concat(handshake, frame(marker(9, 1))), false);

        assertStillServes(good, victim);
        assertFalse(victim.received.contains(marker(9, 1)));
    }

    @Test
    void handshakeOfAnotherGroupClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        assertConnectionClosedAfter(victim, concat(handshake("another-group", 9), frame(marker(9, 1))), false);

        assertStillServes(good, victim);
        assertFalse(victim.received.contains(marker(9, 1)));
    }

    @Test
    void oversizedFrameLengthClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = node(member(2), 1 << 20);
        victim.transport.start();
        link(good, victim);

        assertConnectionClosedAfter(victim, concat(handshake(GROUP, 9), i32((1 << 20) + 1)), false);

        assertStillServes(good, victim);
    }

    @Test
    void negativeFrameLengthClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        assertConnectionClosedAfter(victim, concat(handshake(GROUP, 9), i32(-5)), false);

        assertStillServes(good, victim);
    }

    @Test
    void truncatedFrameClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        byte[] whole = frame(vote(new Member(9, PeerWire.NOWHERE), 1));
        byte[] cut = new byte[whole.length - 3];
        System.arraycopy(whole, 0, cut, 0, cut.length);
        assertConnectionClosedAfter(victim, concat(handshake(GROUP, 9), cut), true);

        assertStillServes(good, victim);
        assertTrue(victim.received.stream().noneMatch(VoteRequest.class::isInstance), "the cut vote was delivered");
    }

    @Test
    void undecodablePayloadClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        byte[] unknownTag = {(byte) 0x7f, 0, 0, 0, 0};
        assertConnectionClosedAfter(victim, concat(handshake(GROUP, 9), i32(unknownTag.length), unknownTag),
                false);

        assertStillServes(good, victim);
    }

    @Test
    void frameWithBytesAfterItsMessageClosesOnlyThatConnection() throws IOException {
        Node good = started(member(1));
        Node victim = started(member(2));
        link(good, victim);

        byte[] message = frame(marker(9, 1));
        byte[] padded = concat(message, new byte[] {0});
        System.arraycopy(i32(message.length - Integer.BYTES + 1), 0, padded, 0, Integer.BYTES);
        assertConnectionClosedAfter(victim, concat(handshake(GROUP, 9), padded), false);

        assertStillServes(good, victim);
        assertFalse(victim.received.contains(marker(9, 1)));
    }

    // ------------------------------------------------------------------------------ fault injection

    @Test
    void aPartitionDropsTrafficBothWaysUntilHealed() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);
        link(b, a);

        a.transport.faults().set(b.member.id(), NetworkFaults.Link.PARTITIONED);
        a.send(b, marker(1, 1));
        b.send(a, marker(2, 1));
        await().atMost(PATIENCE).until(() -> a.transport.droppedByFaults() == 2);
        assertFalse(a.transport.isReachable(b.member));

        a.transport.faults().heal(b.member.id());
        a.send(b, marker(1, 2));
        b.send(a, marker(2, 2));
        // Each connection delivers in order: what was dropped would have arrived before these.
        await().atMost(PATIENCE).until(() -> b.received.contains(marker(1, 2)) && a.received.contains(marker(2, 2)));
        assertFalse(b.received.contains(marker(1, 1)));
        assertFalse(a.received.contains(marker(2, 1)));
        assertTrue(a.transport.isReachable(b.member));
    }

    @Test
    void aDelayedLinkDeliversEveryMessageInOrderAfterTheDelay() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);
        b.received.clear();
        Duration delay = Duration.ofMillis(300);
        a.transport.faults().set(b.member.id(), new NetworkFaults.Link(0, delay));

        long sentAt = System.nanoTime();
        for (int i = 1; i <= 5; i++) {
            a.send(b, marker(1, i));
        }
        await().atMost(PATIENCE).until(() -> b.received.size() == 5);
        assertThat(Duration.ofNanos(System.nanoTime() - sentAt)).isGreaterThanOrEqualTo(delay);
        assertThat(b.received).containsExactly(marker(1, 1), marker(1, 2), marker(1, 3), marker(1, 4), marker(1, 5));
    }

    @Test
    void aLossyLinkDropsSomeMessagesAndDeliversTheRest() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);
        b.received.clear();
        a.transport.faults().set(b.member.id(), new NetworkFaults.Link(0.5, Duration.ZERO));

        int sent = 200;
        for (int i = 1; i <= sent; i++) {
            a.send(b, marker(1, i));
        }
        await().atMost(PATIENCE).until(() -> b.received.size() + a.transport.droppedByFaults() == sent);
        assertThat(a.transport.droppedByFaults()).isBetween(50L, 150L);
    }

    @Test
    void aLinkThatDropsOneKindOfMessageDeliversTheOthersBothWays() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);
        link(b, a);
        a.transport.faults().drop(b.member.id(), message -> message instanceof VoteRequest);

        a.send(b, vote(a.member, 3));
        b.send(a, vote(b.member, 3));
        a.send(b, marker(1, 1));
        b.send(a, marker(2, 1));
        await().atMost(PATIENCE).until(() -> b.received.contains(marker(1, 1)) && a.received.contains(marker(2, 1)));
        assertThat(a.transport.droppedByFaults()).isEqualTo(2);
        assertThat(a.received).noneMatch(VoteRequest.class::isInstance);
        assertThat(b.received).noneMatch(VoteRequest.class::isInstance);

        a.transport.faults().heal(b.member.id());
        a.send(b, vote(a.member, 4));
        await().atMost(PATIENCE).until(() -> b.received.stream().anyMatch(VoteRequest.class::isInstance));
    }

    // ------------------------------------------------------------------------------ back-pressure

    @Test
    void sendNeverBlocksWhenThePeerQueueIsFull() throws IOException {
        Node a = started(member(1));
        // A peer whose kernel accepts the connection but that never reads: the sender soon blocks writing.
        ServerSocket stuck = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        resources.add(stuck);
        Member stuckMember = new Member(2, "http://127.0.0.1:" + stuck.getLocalPort());
        PeerMessage big = new PeerMessage.ForwardedProposals(1, 1,
                List.of(new Operation.Proposal(1, 1, Command.put("big", new byte[1 << 20]))));
        int sends = 10_000;

        assertTimeout(Duration.ofSeconds(2), () -> {
            for (int i = 0; i < sends; i++) {
                a.transport.send(stuckMember, big);
            }
        });

        assertTrue(a.transport.droppedQueueFull() > sends - OutboundPeer.QUEUE_CAPACITY - 1000,
                "dropped " + a.transport.droppedQueueFull());
        assertTrue(a.transport.queueDepths().get(2) > OutboundPeer.QUEUE_CAPACITY - 1000, "the queue stays full");
    }

    @Test
    void everyMessageToAnUnreachablePeerIsDroppedWithoutBlocking() throws IOException {
        Node a = started(member(1));
        Member nobody = member(2);
        int sends = 20_000;

        assertTimeout(Duration.ofSeconds(2), () -> {
            for (int i = 0; i < sends; i++) {
                a.transport.send(nobody, marker(1, i));
            }
        });

        // Queued messages are thrown away at the next failed dial: in the end every one is counted as dropped.
        await().atMost(PATIENCE).until(
                () -> a.transport.droppedQueueFull() + a.transport.droppedUnreachable() == sends);
        assertEquals(0, a.transport.queueDepths().get(2));
        assertFalse(a.transport.isReachable(nobody));
    }

    // ---------------------------------------------------------------------------------- life cycle

    @Test
    void startFailsClearlyWhenThePortIsTaken() throws IOException {
        ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        resources.add(taken);
        Member member = new Member(1, "http://127.0.0.1:" + taken.getLocalPort());
        Node node = node(member, PeerTransport.DEFAULT_MAX_FRAME_LENGTH);

        UncheckedIOException e = assertThrows(UncheckedIOException.class, node.transport::start);
        assertInstanceOf(BindException.class, e.getCause());
        assertTrue(e.getMessage().contains(member.peerUrl()), e.getMessage());
    }

    @Test
    void closeReleasesThePortAndLaterSendsAreHarmless() throws IOException {
        Node a = started(member(1));
        Node b = started(member(2));
        link(a, b);
        link(b, a);

        assertTimeout(Duration.ofSeconds(6), a.transport::close);

        new ServerSocket(a.member.port(), 50, InetAddress.getLoopbackAddress()).close();
        a.send(b, marker(1, 5));
        assertTrue(a.transport.queueDepths().values().stream().allMatch(depth -> depth == 0));
    }
}
