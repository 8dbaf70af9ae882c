package io.metcd.codec;

import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.microraft.RaftEndpoint;
import io.microraft.model.groupop.UpdateRaftGroupMembersOp;
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

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/** Every message, operation and persisted structure comes back from its encoding field for field. */
class CodecTest extends CodecFixtures {
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

    /** Field by field, arrays by content: commands and results hold values. */
    private static void assertProposals(List<Operation.Proposal> expected, List<Operation.Proposal> actual) {
        assertThat(actual).usingRecursiveComparison().isEqualTo(expected);
    }

    private static void assertOperation(Object expected, Object actual) {
        switch (expected) {
            case Operation.Batch e -> {
                Operation.Batch a = assertInstanceOf(Operation.Batch.class, actual);
                assertEquals(e.stampMillis(), a.stampMillis());
                assertProposals(e.proposals(), a.proposals());
            }
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
                assertThat(a.results()).usingRecursiveComparison().isEqualTo(e.results());
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
        var message = committed();
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
}
