package io.metcd.codec;

import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.microraft.MembershipChangeMode;
import io.microraft.RaftEndpoint;
import io.microraft.model.groupop.UpdateRaftGroupMembersOp;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.message.AppendEntriesFailureResponse;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.InstallSnapshotRequest;
import io.microraft.model.message.InstallSnapshotResponse;
import io.microraft.model.message.PreVoteRequest;
import io.microraft.model.message.PreVoteResponse;
import io.microraft.model.message.RaftMessage;
import io.microraft.model.message.TriggerLeaderElectionRequest;
import io.microraft.model.message.VoteRequest;
import io.microraft.model.message.VoteResponse;
import io.microraft.model.persistence.RaftEndpointPersistentState;
import io.microraft.model.persistence.RaftTermPersistentState;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiConsumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class CodecTest {
    private static final DefaultRaftModelFactory MODEL = new DefaultRaftModelFactory();
    private static final String GROUP = "metcd";
    private static final Member M1 = new Member(1, "http://127.0.0.1:13379");
    private static final Member M2 = new Member(2, "http://127.0.0.1:13380");
    private static final Member M3 = new Member(3, "http://node-3.example:13381");

    // ------------------------------------------------------------------------------------- fixtures

    private static Operation.Batch batch() {
        return new Operation.Batch(List.of(
                new Operation.Proposal(1, 7, "a/key", "value".getBytes(StandardCharsets.UTF_8)),
                new Operation.Proposal(2, Long.MAX_VALUE, "gone", null),
                new Operation.Proposal(3, 0, "ключ ☃", new byte[0])));
    }

    private static UpdateRaftGroupMembersOp membersOp() {
        return MODEL.createUpdateRaftGroupMembersOpBuilder().setMembers(List.of(M1, M2, M3))
                .setVotingMembers(List.of(M1, M2)).setEndpoint(M3).setMode(MembershipChangeMode.ADD_LEARNER).build();
    }

    private static LogEntry entry(long index, int term, Object operation) {
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(term).setOperation(operation).build();
    }

    private static List<LogEntry> entries() {
        return List.of(entry(5, 2, batch()), entry(6, 3, new Operation.NewTerm(3)), entry(7, 3, membersOp()));
    }

    private static RaftGroupMembersView view() {
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(4).setMembers(List.of(M1, M2, M3))
                .setVotingMembers(List.of(M1, M3)).build();
    }

    private static SnapshotChunk chunk() {
        byte[] bytes = new byte[256];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) i;
        }
        return MODEL.createSnapshotChunkBuilder().setIndex(40).setTerm(3)
                .setOperation(new Operation.SnapshotPart(bytes)).setSnapshotChunkIndex(1).setSnapshotChunkCount(3)
                .setGroupMembersView(view()).build();
    }

    private static AppendEntriesRequest appendRequest(List<LogEntry> entries) {
        return MODEL.createAppendEntriesRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(Integer.MAX_VALUE)
                .setPreviousLogTerm(2).setPreviousLogIndex(4).setCommitIndex(Long.MAX_VALUE).setLogEntries(entries)
                .setQuerySequenceNumber(17).setFlowControlSequenceNumber(18).build();
    }

    private static InstallSnapshotRequest installRequest(SnapshotChunk chunk) {
        return MODEL.createInstallSnapshotRequestBuilder().setGroupId(GROUP).setSender(M2).setTerm(3)
                .setSenderLeader(true).setSnapshotTerm(3).setSnapshotIndex(40).setTotalSnapshotChunkCount(3)
                .setSnapshotChunk(chunk).setSnapshottedMembers(List.of(M2, M3)).setGroupMembersView(view())
                .setQuerySequenceNumber(5).setFlowControlSequenceNumber(6).build();
    }

    /** One message of every type the codec knows, with every optional part present. */
    private static List<Object> everyMessage() {
        return List.of(
                appendRequest(entries()),
                appendRequest(List.of()),
                MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(GROUP).setSender(M2).setTerm(3)
                        .setLastLogIndex(7).setQuerySequenceNumber(8).setFlowControlSequenceNumber(9).build(),
                MODEL.createAppendEntriesFailureResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(3)
                        .setExpectedNextIndex(5).setQuerySequenceNumber(6).setFlowControlSequenceNumber(7).build(),
                installRequest(chunk()),
                installRequest(null),
                MODEL.createInstallSnapshotResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(3)
                        .setSnapshotIndex(40).setRequestedSnapshotChunkIndex(2).setQuerySequenceNumber(5)
                        .setFlowControlSequenceNumber(6).build(),
                MODEL.createPreVoteRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4).setLastLogTerm(3)
                        .setLastLogIndex(7).build(),
                MODEL.createPreVoteResponseBuilder().setGroupId(GROUP).setSender(M2).setTerm(4).setGranted(true)
                        .build(),
                MODEL.createVoteRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4).setLastLogTerm(3)
                        .setLastLogIndex(7).setSticky(true).build(),
                MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(4).setGranted(false).build(),
                MODEL.createTriggerLeaderElectionRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4)
                        .setLastLogTerm(3).setLastLogIndex(7).build(),
                new PeerMessage.ForwardedProposals(2, 7, batch().proposals()),
                new PeerMessage.ProposalsRejected(1, new long[] {3, Long.MIN_VALUE, 9}, "not the leader"),
                new PeerMessage.ProposalsCommitted(1, new long[] {3, Long.MAX_VALUE}, 41),
                new PeerMessage.ReadIndexRequest(3, 77, true),
                new PeerMessage.ReadIndexResponse(1, 77, -1),
                new PeerMessage.NotAMember(2));
    }

    // ------------------------------------------------------------------------------------- helpers

    private static byte[] encode(Object message) {
        Writer out = new Writer(16);
        Codec.writeMessage(out, message);
        return out.toByteArray();
    }

    /** Decodes {@code bytes} with {@code read}, which must consume them exactly. */
    private static <T> T decode(byte[] bytes, Function<Reader, T> read) {
        Reader in = new Reader(bytes);
        T value = read.apply(in);
        assertEquals(0, in.remaining(), "bytes left after decoding");
        return value;
    }

    private static Object roundTrip(Object message) {
        return decode(encode(message), Codec::readMessage);
    }

    private static <T> T roundTrip(T value, BiConsumer<Writer, T> write, Function<Reader, T> read) {
        Writer out = new Writer(16);
        write.accept(out, value);
        return decode(out.toByteArray(), read);
    }

    /** Decoding {@code bytes} either succeeds or fails with a {@link CodecException}, nothing else. */
    private static void assertDecodesOrRejects(byte[] bytes) {
        try {
            Codec.readMessage(new Reader(bytes));
        } catch (CodecException expected) {
            // The outcome for almost all garbage.
        } catch (Throwable t) {
            fail("decoding " + HexFormat.of().formatHex(bytes) + " threw " + t, t);
        }
    }

    // ----------------------------------------------------------------------------- field comparison

    private static void assertMember(RaftEndpoint expected, RaftEndpoint actual) {
        Member e = (Member) expected;
        Member a = assertInstanceOf(Member.class, actual);
        assertEquals(e.id(), a.id());
        assertEquals(e.peerUrl(), a.peerUrl());
    }

    private static void assertMembers(Collection<RaftEndpoint> expected, Collection<RaftEndpoint> actual) {
        assertEquals(expected.size(), actual.size());
        Iterator<RaftEndpoint> a = actual.iterator();
        for (RaftEndpoint e : expected) {
            assertMember(e, a.next());
        }
    }

    private static void assertProposals(List<Operation.Proposal> expected, List<Operation.Proposal> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            Operation.Proposal e = expected.get(i);
            Operation.Proposal a = actual.get(i);
            assertEquals(e.origin(), a.origin());
            assertEquals(e.seq(), a.seq());
            assertEquals(e.key(), a.key());
            assertEquals(e.isDelete(), a.isDelete());
            assertArrayEquals(e.value(), a.value());
        }
    }

    private static void assertOperation(Object expected, Object actual) {
        switch (expected) {
            case Operation.Batch e ->
                assertProposals(e.proposals(), assertInstanceOf(Operation.Batch.class, actual).proposals());
            case Operation.NewTerm e -> assertEquals(e, actual);
            case Operation.SnapshotPart e ->
                assertArrayEquals(e.bytes(), assertInstanceOf(Operation.SnapshotPart.class, actual).bytes());
            case UpdateRaftGroupMembersOp e -> {
                UpdateRaftGroupMembersOp a = assertInstanceOf(UpdateRaftGroupMembersOp.class, actual);
                assertMembers(e.getMembers(), a.getMembers());
                assertMembers(e.getVotingMembers(), a.getVotingMembers());
                assertMember(e.getEndpoint(), a.getEndpoint());
                assertEquals(e.getMode(), a.getMode());
            }
            default -> fail("unexpected operation " + expected);
        }
    }

    private static void assertLogEntry(LogEntry expected, LogEntry actual) {
        assertEquals(expected.getIndex(), actual.getIndex());
        assertEquals(expected.getTerm(), actual.getTerm());
        assertOperation(expected.getOperation(), actual.getOperation());
    }

    private static void assertView(RaftGroupMembersView expected, RaftGroupMembersView actual) {
        assertEquals(expected.getLogIndex(), actual.getLogIndex());
        assertMembers(expected.getMembers(), actual.getMembers());
        assertMembers(expected.getVotingMembers(), actual.getVotingMembers());
    }

    private static void assertChunk(SnapshotChunk expected, SnapshotChunk actual) {
        assertEquals(expected.getIndex(), actual.getIndex());
        assertEquals(expected.getTerm(), actual.getTerm());
        assertOperation(expected.getOperation(), actual.getOperation());
        assertEquals(expected.getSnapshotChunkIndex(), actual.getSnapshotChunkIndex());
        assertEquals(expected.getSnapshotChunkCount(), actual.getSnapshotChunkCount());
        assertView(expected.getGroupMembersView(), actual.getGroupMembersView());
    }

    /** Compares every field of two messages of the same type. */
    private static void assertMessage(Object expected, Object actual) {
        if (expected instanceof RaftMessage e) {
            RaftMessage a = assertInstanceOf(RaftMessage.class, actual);
            assertEquals(e.getGroupId(), a.getGroupId());
            assertMember(e.getSender(), a.getSender());
            assertEquals(e.getTerm(), a.getTerm());
        }
        switch (expected) {
            case AppendEntriesRequest e -> {
                AppendEntriesRequest a = assertInstanceOf(AppendEntriesRequest.class, actual);
                assertEquals(e.getPreviousLogTerm(), a.getPreviousLogTerm());
                assertEquals(e.getPreviousLogIndex(), a.getPreviousLogIndex());
                assertEquals(e.getCommitIndex(), a.getCommitIndex());
                assertEquals(e.getLogEntries().size(), a.getLogEntries().size());
                for (int i = 0; i < e.getLogEntries().size(); i++) {
                    assertLogEntry(e.getLogEntries().get(i), a.getLogEntries().get(i));
                }
                assertEquals(e.getQuerySequenceNumber(), a.getQuerySequenceNumber());
                assertEquals(e.getFlowControlSequenceNumber(), a.getFlowControlSequenceNumber());
            }
            case AppendEntriesSuccessResponse e -> {
                AppendEntriesSuccessResponse a = assertInstanceOf(AppendEntriesSuccessResponse.class, actual);
                assertEquals(e.getLastLogIndex(), a.getLastLogIndex());
                assertEquals(e.getQuerySequenceNumber(), a.getQuerySequenceNumber());
                assertEquals(e.getFlowControlSequenceNumber(), a.getFlowControlSequenceNumber());
            }
            case AppendEntriesFailureResponse e -> {
                AppendEntriesFailureResponse a = assertInstanceOf(AppendEntriesFailureResponse.class, actual);
                assertEquals(e.getExpectedNextIndex(), a.getExpectedNextIndex());
                assertEquals(e.getQuerySequenceNumber(), a.getQuerySequenceNumber());
                assertEquals(e.getFlowControlSequenceNumber(), a.getFlowControlSequenceNumber());
            }
            case InstallSnapshotRequest e -> {
                InstallSnapshotRequest a = assertInstanceOf(InstallSnapshotRequest.class, actual);
                assertEquals(e.isSenderLeader(), a.isSenderLeader());
                assertEquals(e.getSnapshotTerm(), a.getSnapshotTerm());
                assertEquals(e.getSnapshotIndex(), a.getSnapshotIndex());
                assertEquals(e.getTotalSnapshotChunkCount(), a.getTotalSnapshotChunkCount());
                if (e.getSnapshotChunk() == null) {
                    assertNull(a.getSnapshotChunk());
                } else {
                    assertChunk(e.getSnapshotChunk(), a.getSnapshotChunk());
                }
                assertMembers(e.getSnapshottedMembers(), a.getSnapshottedMembers());
                assertView(e.getGroupMembersView(), a.getGroupMembersView());
                assertEquals(e.getQuerySequenceNumber(), a.getQuerySequenceNumber());
                assertEquals(e.getFlowControlSequenceNumber(), a.getFlowControlSequenceNumber());
            }
            case InstallSnapshotResponse e -> {
                InstallSnapshotResponse a = assertInstanceOf(InstallSnapshotResponse.class, actual);
                assertEquals(e.getSnapshotIndex(), a.getSnapshotIndex());
                assertEquals(e.getRequestedSnapshotChunkIndex(), a.getRequestedSnapshotChunkIndex());
                assertEquals(e.getQuerySequenceNumber(), a.getQuerySequenceNumber());
                assertEquals(e.getFlowControlSequenceNumber(), a.getFlowControlSequenceNumber());
            }
            case PreVoteRequest e -> {
                PreVoteRequest a = assertInstanceOf(PreVoteRequest.class, actual);
                assertEquals(e.getLastLogTerm(), a.getLastLogTerm());
                assertEquals(e.getLastLogIndex(), a.getLastLogIndex());
            }
            case PreVoteResponse e ->
                assertEquals(e.isGranted(), assertInstanceOf(PreVoteResponse.class, actual).isGranted());
            case VoteRequest e -> {
                VoteRequest a = assertInstanceOf(VoteRequest.class, actual);
                assertEquals(e.getLastLogTerm(), a.getLastLogTerm());
                assertEquals(e.getLastLogIndex(), a.getLastLogIndex());
                assertEquals(e.isSticky(), a.isSticky());
            }
            case VoteResponse e ->
                assertEquals(e.isGranted(), assertInstanceOf(VoteResponse.class, actual).isGranted());
            case TriggerLeaderElectionRequest e -> {
                TriggerLeaderElectionRequest a = assertInstanceOf(TriggerLeaderElectionRequest.class, actual);
                assertEquals(e.getLastLogTerm(), a.getLastLogTerm());
                assertEquals(e.getLastLogIndex(), a.getLastLogIndex());
            }
            case PeerMessage.ForwardedProposals e -> {
                PeerMessage.ForwardedProposals a = assertInstanceOf(PeerMessage.ForwardedProposals.class, actual);
                assertEquals(e.from(), a.from());
                assertEquals(e.term(), a.term());
                assertProposals(e.proposals(), a.proposals());
            }
            case PeerMessage.ProposalsRejected e -> {
                PeerMessage.ProposalsRejected a = assertInstanceOf(PeerMessage.ProposalsRejected.class, actual);
                assertEquals(e.from(), a.from());
                assertArrayEquals(e.seqs(), a.seqs());
                assertEquals(e.reason(), a.reason());
            }
            case PeerMessage.ProposalsCommitted e -> {
                PeerMessage.ProposalsCommitted a = assertInstanceOf(PeerMessage.ProposalsCommitted.class, actual);
                assertEquals(e.from(), a.from());
                assertArrayEquals(e.seqs(), a.seqs());
                assertEquals(e.index(), a.index());
            }
            // The other peer messages are records of plain values: their equals compares every field.
            case PeerMessage e -> assertEquals(e, actual);
            default -> fail("unexpected message " + expected);
        }
    }

    // ---------------------------------------------------------------------------------- round trips

    @Test
    void appendEntriesRequestWithBatchNewTermAndMembershipEntriesRoundTrips() {
        AppendEntriesRequest request = appendRequest(entries());
        assertMessage(request, roundTrip(request));
    }

    @Test
    void heartbeatAppendEntriesRequestWithoutEntriesRoundTrips() {
        AppendEntriesRequest request = appendRequest(List.of());
        assertMessage(request, roundTrip(request));
    }

    @Test
    void appendEntriesSuccessResponseRoundTrips() {
        var response = MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(GROUP).setSender(M2).setTerm(3)
                .setLastLogIndex(7).setQuerySequenceNumber(8).setFlowControlSequenceNumber(9).build();
        assertMessage(response, roundTrip(response));
    }

    @Test
    void appendEntriesFailureResponseRoundTrips() {
        var response = MODEL.createAppendEntriesFailureResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(3)
                .setExpectedNextIndex(5).setQuerySequenceNumber(6).setFlowControlSequenceNumber(7).build();
        assertMessage(response, roundTrip(response));
    }

    @Test
    void installSnapshotRequestWithChunkRoundTrips() {
        InstallSnapshotRequest request = installRequest(chunk());
        assertMessage(request, roundTrip(request));
    }

    @Test
    void installSnapshotRequestWithoutChunkRoundTrips() {
        InstallSnapshotRequest request = installRequest(null);
        assertMessage(request, roundTrip(request));
    }

    @Test
    void installSnapshotResponseRoundTrips() {
        var response = MODEL.createInstallSnapshotResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(3)
                .setSnapshotIndex(40).setRequestedSnapshotChunkIndex(2).setQuerySequenceNumber(5)
                .setFlowControlSequenceNumber(6).build();
        assertMessage(response, roundTrip(response));
    }

    @Test
    void preVoteRequestRoundTrips() {
        var request = MODEL.createPreVoteRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4)
                .setLastLogTerm(3).setLastLogIndex(7).build();
        assertMessage(request, roundTrip(request));
    }

    @Test
    void preVoteResponseRoundTrips() {
        var response = MODEL.createPreVoteResponseBuilder().setGroupId(GROUP).setSender(M2).setTerm(4)
                .setGranted(true).build();
        assertMessage(response, roundTrip(response));
    }

    @Test
    void voteRequestRoundTrips() {
        var request = MODEL.createVoteRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4).setLastLogTerm(3)
                .setLastLogIndex(7).setSticky(true).build();
        assertMessage(request, roundTrip(request));
    }

    @Test
    void voteResponseRoundTrips() {
        var response = MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(4).setGranted(false)
                .build();
        assertMessage(response, roundTrip(response));
    }

    @Test
    void triggerLeaderElectionRequestRoundTrips() {
        var request = MODEL.createTriggerLeaderElectionRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(4)
                .setLastLogTerm(3).setLastLogIndex(7).build();
        assertMessage(request, roundTrip(request));
    }

    @Test
    void forwardedProposalsRoundTrip() {
        var message = new PeerMessage.ForwardedProposals(2, 7, batch().proposals());
        assertMessage(message, roundTrip(message));
    }

    @Test
    void proposalsRejectedRoundTrips() {
        var message = new PeerMessage.ProposalsRejected(1, new long[] {3, Long.MIN_VALUE, 9}, "not the leader");
        assertMessage(message, roundTrip(message));
    }

    @Test
    void proposalsCommittedRoundTrips() {
        var message = new PeerMessage.ProposalsCommitted(1, new long[] {3, Long.MAX_VALUE}, 41);
        assertMessage(message, roundTrip(message));
    }

    @Test
    void readIndexRequestRoundTrips() {
        var message = new PeerMessage.ReadIndexRequest(3, 77, true);
        assertMessage(message, roundTrip(message));
    }

    @Test
    void readIndexResponseRoundTrips() {
        var message = new PeerMessage.ReadIndexResponse(1, 77, -1);
        assertMessage(message, roundTrip(message));
    }

    @Test
    void notAMemberRoundTrips() {
        var message = new PeerMessage.NotAMember(2);
        assertMessage(message, roundTrip(message));
    }

    @Test
    void logEntriesOfEveryOperationRoundTrip() {
        List<LogEntry> entries = new ArrayList<>(entries());
        entries.add(entry(41, 3, new Operation.SnapshotPart(new byte[] {1, 2, 3})));
        for (LogEntry entry : entries) {
            assertLogEntry(entry, roundTrip(entry, Codec::writeLogEntry, Codec::readLogEntry));
        }
    }

    @Test
    void snapshotChunkRoundTrips() {
        SnapshotChunk chunk = chunk();
        assertChunk(chunk, roundTrip(chunk, Codec::writeSnapshotChunk, Codec::readSnapshotChunk));
    }

    @Test
    void membersViewRoundTrips() {
        RaftGroupMembersView view = view();
        assertView(view, roundTrip(view, Codec::writeMembersView, Codec::readMembersView));
    }

    @Test
    void termStateWithVoteRoundTrips() {
        RaftTermPersistentState state = MODEL.createRaftTermPersistentStateBuilder().setTerm(9).setVotedFor(M2).build();
        RaftTermPersistentState decoded = roundTrip(state, Codec::writeTermState, Codec::readTermState);
        assertEquals(9, decoded.getTerm());
        assertMember(M2, decoded.getVotedFor());
    }

    @Test
    void termStateWithoutVoteRoundTrips() {
        RaftTermPersistentState state = MODEL.createRaftTermPersistentStateBuilder().setTerm(9).setVotedFor(null)
                .build();
        RaftTermPersistentState decoded = roundTrip(state, Codec::writeTermState, Codec::readTermState);
        assertEquals(9, decoded.getTerm());
        assertNull(decoded.getVotedFor());
    }

    @Test
    void endpointStateRoundTrips() {
        RaftEndpointPersistentState state = MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(M3)
                .setVoting(false).build();
        RaftEndpointPersistentState decoded = roundTrip(state, Codec::writeEndpointState, Codec::readEndpointState);
        assertMember(M3, decoded.getLocalEndpoint());
        assertFalse(decoded.isVoting());
    }

    @Test
    void encodingAnUnknownTypeFailsLoudly() {
        assertThrows(IllegalArgumentException.class, () -> Codec.writeMessage(new Writer(16), "not a message"));
        assertThrows(IllegalArgumentException.class, () -> Codec.writeOperation(new Writer(16), 42));
    }

    // ------------------------------------------------------------------------------------- garbage

    @Test
    void randomBytesNeverRaiseAnythingButCodecException() {
        Random random = new Random(20_26);
        List<Byte> tags = new ArrayList<>(messageTags());
        for (int i = 0; i < 50_000; i++) {
            byte[] bytes = new byte[random.nextInt(96)];
            random.nextBytes(bytes);
            // Mostly start with a real tag, or nearly everything would stop at the first byte.
            if (bytes.length > 0 && random.nextInt(4) > 0) {
                bytes[0] = tags.get(random.nextInt(tags.size()));
            }
            assertDecodesOrRejects(bytes);
        }
    }

    @Test
    void corruptedEncodingsNeverRaiseAnythingButCodecException() {
        Random random = new Random(7);
        for (Object message : everyMessage()) {
            byte[] valid = encode(message);
            for (int i = 0; i < 2_000; i++) {
                byte[] bytes = valid.clone();
                for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
                    bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
                }
                assertDecodesOrRejects(bytes);
            }
        }
    }

    @Test
    void hugeLengthsAreRejectedWithoutAllocating() {
        byte snapshotPart = encodeOperation(new Operation.SnapshotPart(new byte[0]))[0];
        byte voteResponse = encode(MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(M1).setTerm(1)
                .setGranted(true).build())[0];
        byte rejected = encode(new PeerMessage.ProposalsRejected(1, new long[0], ""))[0];
        List<Runnable> decodes = new ArrayList<>();
        for (int length : new int[] {Integer.MAX_VALUE, 1 << 30, -1, Integer.MIN_VALUE}) {
            // A byte array (a snapshot part), a string (the group id) and a list (rejected seqs), each followed
            // by a few bytes: far fewer than the length claims.
            byte[] part = new Writer(16).u8(snapshotPart).i32(length).i64(0).toByteArray();
            byte[] group = new Writer(16).u8(voteResponse).i32(length).i64(0).toByteArray();
            byte[] seqs = new Writer(16).u8(rejected).i32(1).i32(length).i64(0).toByteArray();
            decodes.add(() -> Codec.readOperation(new Reader(part)));
            decodes.add(() -> Codec.readMessage(new Reader(group)));
            decodes.add(() -> Codec.readMessage(new Reader(seqs)));
        }
        decodes.forEach(decode -> assertThrows(CodecException.class, decode::run)); // loads the classes involved

        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();
        decodes.forEach(decode -> assertThrows(CodecException.class, decode::run));
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 1 << 20, "rejecting " + decodes.size() + " inputs allocated " + allocated + " bytes");
    }

    @Test
    void everyStrictPrefixOfAValidEncodingIsRejected() {
        List<byte[]> encodings = new ArrayList<>();
        everyMessage().forEach(message -> encodings.add(encode(message)));
        for (byte[] valid : encodings) {
            for (int length = 0; length < valid.length; length++) {
                byte[] prefix = Arrays.copyOf(valid, length);
                assertThrows(CodecException.class, () -> Codec.readMessage(new Reader(prefix)),
                        () -> "prefix of " + prefix.length + " bytes of " + HexFormat.of().formatHex(valid));
            }
        }
    }

    @Test
    void everyStrictPrefixOfAPersistedStructureIsRejected() {
        Writer out = new Writer(16);
        Codec.writeLogEntry(out, entry(5, 2, batch()));
        assertPrefixesRejected(out.toByteArray(), Codec::readLogEntry);
        Codec.writeSnapshotChunk(out.reset(), chunk());
        assertPrefixesRejected(out.toByteArray(), Codec::readSnapshotChunk);
        Codec.writeTermState(out.reset(),
                MODEL.createRaftTermPersistentStateBuilder().setTerm(9).setVotedFor(M2).build());
        assertPrefixesRejected(out.toByteArray(), Codec::readTermState);
        Codec.writeEndpointState(out.reset(),
                MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(M3).setVoting(true).build());
        assertPrefixesRejected(out.toByteArray(), Codec::readEndpointState);
    }

    private static void assertPrefixesRejected(byte[] valid, Function<Reader, ?> read) {
        for (int length = 0; length < valid.length; length++) {
            byte[] prefix = Arrays.copyOf(valid, length);
            assertThrows(CodecException.class, () -> read.apply(new Reader(prefix)));
        }
    }

    @Test
    void unknownMessageTagsAreRejected() {
        Set<Byte> known = messageTags();
        for (int tag = Byte.MIN_VALUE; tag <= Byte.MAX_VALUE; tag++) {
            if (!known.contains((byte) tag)) {
                byte[] bytes = new byte[64];
                bytes[0] = (byte) tag;
                CodecException e = assertThrows(CodecException.class, () -> Codec.readMessage(new Reader(bytes)));
                assertTrue(e.getMessage().contains("unknown message tag"), e.getMessage());
            }
        }
    }

    @Test
    void unknownOperationTagsAreRejected() {
        Set<Byte> known = new TreeSet<>();
        for (Object operation : List.of(batch(), new Operation.NewTerm(3), new Operation.SnapshotPart(new byte[1]),
                membersOp())) {
            known.add(encodeOperation(operation)[0]);
        }
        for (int tag = Byte.MIN_VALUE; tag <= Byte.MAX_VALUE; tag++) {
            if (!known.contains((byte) tag)) {
                byte[] bytes = new byte[64];
                bytes[0] = (byte) tag;
                CodecException e = assertThrows(CodecException.class,
                        () -> Codec.readOperation(new Reader(bytes)));
                assertTrue(e.getMessage().contains("unknown operation tag"), e.getMessage());
            }
        }
    }

    @Test
    void unknownMembershipChangeModeIsRejected() {
        byte[] bytes = encodeOperation(membersOp());
        bytes[bytes.length - 1] = (byte) MembershipChangeMode.values().length; // the mode is the last byte
        assertThrows(CodecException.class, () -> Codec.readOperation(new Reader(bytes)));
    }

    @Test
    void booleanOtherThanZeroOrOneIsRejected() {
        byte[] bytes = encode(MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(4)
                .setGranted(true).build());
        bytes[bytes.length - 1] = 2; // "granted" is the last byte
        assertThrows(CodecException.class, () -> Codec.readMessage(new Reader(bytes)));
    }

    @Test
    void nonPositiveMemberIdIsRejected() {
        byte[] bytes = encode(MODEL.createVoteResponseBuilder().setGroupId(GROUP).setSender(M3).setTerm(4)
                .setGranted(true).build());
        // The tag, the group id (length and bytes), then the sender's id.
        int idAt = 1 + Integer.BYTES + GROUP.length();
        bytes[idAt] = (byte) 0x80; // the id becomes negative
        assertThrows(CodecException.class, () -> Codec.readMessage(new Reader(bytes)));
    }

    private static byte[] encodeOperation(Object operation) {
        Writer out = new Writer(16);
        Codec.writeOperation(out, operation);
        return out.toByteArray();
    }

    /** The tags the codec writes, learned from encoding one message of each type. */
    private static Set<Byte> messageTags() {
        Set<Byte> tags = new TreeSet<>();
        everyMessage().forEach(message -> tags.add(encode(message)[0]));
        return tags;
    }
}
