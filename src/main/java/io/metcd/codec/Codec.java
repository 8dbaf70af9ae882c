package io.metcd.codec;

import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.metcd.model.Result;
import io.microraft.MembershipChangeMode;
import io.microraft.RaftEndpoint;
import io.microraft.model.RaftModelFactory;
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

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The compact binary encoding of everything metcd puts on the wire or in the WAL: every MicroRaft message,
 * log entries and their operations, snapshot chunks, membership views and persistent Raft state, and
 * metcd's own {@link PeerMessage}s.
 * <p>
 * Integers are fixed-width big-endian; strings are UTF-8 and byte arrays are length-prefixed. Decoding
 * never trusts the input: a truncated buffer, an unknown type tag or a length beyond what is left all
 * raise {@link CodecException}, before anything large is allocated.
 */
public final class Codec {
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();

    // Message tags: one byte at the front of every peer frame's payload.
    private static final byte APPEND_REQUEST = 1;
    private static final byte APPEND_SUCCESS = 2;
    private static final byte APPEND_FAILURE = 3;
    private static final byte INSTALL_SNAPSHOT_REQUEST = 4;
    private static final byte INSTALL_SNAPSHOT_RESPONSE = 5;
    private static final byte PRE_VOTE_REQUEST = 6;
    private static final byte PRE_VOTE_RESPONSE = 7;
    private static final byte VOTE_REQUEST = 8;
    private static final byte VOTE_RESPONSE = 9;
    private static final byte TRIGGER_ELECTION = 10;
    private static final byte FORWARDED_PROPOSALS = 20;
    private static final byte PROPOSALS_REJECTED = 21;
    private static final byte READ_INDEX_REQUEST = 22;
    private static final byte READ_INDEX_RESPONSE = 23;
    private static final byte NOT_A_MEMBER = 24;
    private static final byte PROPOSALS_COMMITTED = 25;

    // Operation tags.
    private static final byte OP_BATCH = 1;
    private static final byte OP_NEW_TERM = 2;
    private static final byte OP_SNAPSHOT_PART = 3;
    private static final byte OP_MEMBERS = 4;

    private static final MembershipChangeMode[] MODES = MembershipChangeMode.values();

    private Codec() {
    }

    // ---------------------------------------------------------------------------------------- messages

    /** Writes a MicroRaft {@link RaftMessage} or a metcd {@link PeerMessage}. */
    public static void writeMessage(Writer out, Object message) {
        switch (message) {
            case AppendEntriesRequest m -> {
                header(out, APPEND_REQUEST, m);
                out.i32(m.getPreviousLogTerm()).i64(m.getPreviousLogIndex()).i64(m.getCommitIndex());
                out.i32(m.getLogEntries().size());
                for (LogEntry entry : m.getLogEntries()) {
                    writeLogEntry(out, entry);
                }
                out.i64(m.getQuerySequenceNumber()).i64(m.getFlowControlSequenceNumber());
            }
            case AppendEntriesSuccessResponse m -> {
                header(out, APPEND_SUCCESS, m);
                out.i64(m.getLastLogIndex()).i64(m.getQuerySequenceNumber()).i64(m.getFlowControlSequenceNumber());
            }
            case AppendEntriesFailureResponse m -> {
                header(out, APPEND_FAILURE, m);
                out.i64(m.getExpectedNextIndex()).i64(m.getQuerySequenceNumber())
                        .i64(m.getFlowControlSequenceNumber());
            }
            case InstallSnapshotRequest m -> {
                header(out, INSTALL_SNAPSHOT_REQUEST, m);
                out.bool(m.isSenderLeader()).i32(m.getSnapshotTerm()).i64(m.getSnapshotIndex())
                        .i32(m.getTotalSnapshotChunkCount());
                out.bool(m.getSnapshotChunk() != null);
                if (m.getSnapshotChunk() != null) {
                    writeSnapshotChunk(out, m.getSnapshotChunk());
                }
                writeEndpoints(out, m.getSnapshottedMembers());
                writeMembersView(out, m.getGroupMembersView());
                out.i64(m.getQuerySequenceNumber()).i64(m.getFlowControlSequenceNumber());
            }
            case InstallSnapshotResponse m -> {
                header(out, INSTALL_SNAPSHOT_RESPONSE, m);
                out.i64(m.getSnapshotIndex()).i32(m.getRequestedSnapshotChunkIndex())
                        .i64(m.getQuerySequenceNumber()).i64(m.getFlowControlSequenceNumber());
            }
            case PreVoteRequest m -> {
                header(out, PRE_VOTE_REQUEST, m);
                out.i32(m.getLastLogTerm()).i64(m.getLastLogIndex());
            }
            case PreVoteResponse m -> {
                header(out, PRE_VOTE_RESPONSE, m);
                out.bool(m.isGranted());
            }
            case VoteRequest m -> {
                header(out, VOTE_REQUEST, m);
                out.i32(m.getLastLogTerm()).i64(m.getLastLogIndex()).bool(m.isSticky());
            }
            case VoteResponse m -> {
                header(out, VOTE_RESPONSE, m);
                out.bool(m.isGranted());
            }
            case TriggerLeaderElectionRequest m -> {
                header(out, TRIGGER_ELECTION, m);
                out.i32(m.getLastLogTerm()).i64(m.getLastLogIndex());
            }
            case PeerMessage.ForwardedProposals m -> {
                out.u8(FORWARDED_PROPOSALS).i32(m.from()).i32(m.term());
                CommandCodec.writeProposals(out, m.proposals());
            }
            case PeerMessage.ProposalsRejected m -> {
                writeSeqs(out.u8(PROPOSALS_REJECTED).i32(m.from()), m.seqs());
                out.string(m.reason());
            }
            case PeerMessage.ReadIndexRequest m ->
                out.u8(READ_INDEX_REQUEST).i32(m.from()).i64(m.requestId()).bool(m.linearizable());
            case PeerMessage.ReadIndexResponse m ->
                out.u8(READ_INDEX_RESPONSE).i32(m.from()).i64(m.requestId()).i64(m.index());
            case PeerMessage.NotAMember m -> out.u8(NOT_A_MEMBER).i32(m.from());
            case PeerMessage.ProposalsCommitted m -> {
                writeSeqs(out.u8(PROPOSALS_COMMITTED).i32(m.from()), m.seqs()).i64(m.index());
                CommandCodec.writeResults(out, m.results());
            }
            default -> throw new IllegalArgumentException("cannot encode " + message.getClass().getName());
        }
    }

    /** Reads what {@link #writeMessage} wrote: a {@link RaftMessage} or a {@link PeerMessage}. */
    public static Object readMessage(Reader in) {
        byte tag = in.u8();
        return switch (tag) {
            case APPEND_REQUEST -> {
                var b = MODEL.createAppendEntriesRequestBuilder().setGroupId(in.string()).setSender(readMember(in))
                        .setTerm(in.i32()).setPreviousLogTerm(in.i32()).setPreviousLogIndex(in.i64())
                        .setCommitIndex(in.i64());
                int count = in.count(13);
                List<LogEntry> entries = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    entries.add(readLogEntry(in));
                }
                yield b.setLogEntries(entries).setQuerySequenceNumber(in.i64())
                        .setFlowControlSequenceNumber(in.i64()).build();
            }
            case APPEND_SUCCESS -> MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setLastLogIndex(in.i64())
                    .setQuerySequenceNumber(in.i64()).setFlowControlSequenceNumber(in.i64()).build();
            case APPEND_FAILURE -> MODEL.createAppendEntriesFailureResponseBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setExpectedNextIndex(in.i64())
                    .setQuerySequenceNumber(in.i64()).setFlowControlSequenceNumber(in.i64()).build();
            case INSTALL_SNAPSHOT_REQUEST -> MODEL.createInstallSnapshotRequestBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setSenderLeader(in.bool())
                    .setSnapshotTerm(in.i32()).setSnapshotIndex(in.i64()).setTotalSnapshotChunkCount(in.i32())
                    .setSnapshotChunk(in.bool() ? readSnapshotChunk(in) : null)
                    .setSnapshottedMembers(readEndpoints(in)).setGroupMembersView(readMembersView(in))
                    .setQuerySequenceNumber(in.i64()).setFlowControlSequenceNumber(in.i64()).build();
            case INSTALL_SNAPSHOT_RESPONSE -> MODEL.createInstallSnapshotResponseBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setSnapshotIndex(in.i64())
                    .setRequestedSnapshotChunkIndex(in.i32()).setQuerySequenceNumber(in.i64())
                    .setFlowControlSequenceNumber(in.i64()).build();
            case PRE_VOTE_REQUEST -> MODEL.createPreVoteRequestBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setLastLogTerm(in.i32())
                    .setLastLogIndex(in.i64()).build();
            case PRE_VOTE_RESPONSE -> MODEL.createPreVoteResponseBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setGranted(in.bool()).build();
            case VOTE_REQUEST -> MODEL.createVoteRequestBuilder().setGroupId(in.string()).setSender(readMember(in))
                    .setTerm(in.i32()).setLastLogTerm(in.i32()).setLastLogIndex(in.i64()).setSticky(in.bool())
                    .build();
            case VOTE_RESPONSE -> MODEL.createVoteResponseBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setGranted(in.bool()).build();
            case TRIGGER_ELECTION -> MODEL.createTriggerLeaderElectionRequestBuilder().setGroupId(in.string())
                    .setSender(readMember(in)).setTerm(in.i32()).setLastLogTerm(in.i32())
                    .setLastLogIndex(in.i64()).build();
            case FORWARDED_PROPOSALS ->
                new PeerMessage.ForwardedProposals(in.i32(), in.i32(), CommandCodec.readProposals(in));
            case PROPOSALS_REJECTED -> new PeerMessage.ProposalsRejected(in.i32(), readSeqs(in), in.string());
            case READ_INDEX_REQUEST -> new PeerMessage.ReadIndexRequest(in.i32(), in.i64(), in.bool());
            case READ_INDEX_RESPONSE -> new PeerMessage.ReadIndexResponse(in.i32(), in.i64(), in.i64());
            case NOT_A_MEMBER -> new PeerMessage.NotAMember(in.i32());
            case PROPOSALS_COMMITTED -> {
                int from = in.i32();
                long[] seqs = readSeqs(in);
                long index = in.i64();
                List<Result> results = CommandCodec.readResults(in);
                if (results.size() != seqs.length) {
                    throw new CodecException(results.size() + " results for " + seqs.length + " writes");
                }
                yield new PeerMessage.ProposalsCommitted(from, seqs, index, results);
            }
            default -> throw new CodecException("unknown message tag " + tag);
        };
    }

    private static void header(Writer out, byte tag, RaftMessage m) {
        out.u8(tag).string((String) m.getGroupId());
        writeMember(out, m.getSender());
        out.i32(m.getTerm());
    }

    // ------------------------------------------------------------------------- log and persistent state

    public static void writeLogEntry(Writer out, LogEntry entry) {
        out.i64(entry.getIndex()).i32(entry.getTerm());
        writeOperation(out, entry.getOperation());
    }

    public static LogEntry readLogEntry(Reader in) {
        return MODEL.createLogEntryBuilder().setIndex(in.i64()).setTerm(in.i32()).setOperation(readOperation(in))
                .build();
    }

    public static void writeSnapshotChunk(Writer out, SnapshotChunk chunk) {
        out.i64(chunk.getIndex()).i32(chunk.getTerm());
        writeOperation(out, chunk.getOperation());
        out.i32(chunk.getSnapshotChunkIndex()).i32(chunk.getSnapshotChunkCount());
        writeMembersView(out, chunk.getGroupMembersView());
    }

    public static SnapshotChunk readSnapshotChunk(Reader in) {
        return MODEL.createSnapshotChunkBuilder().setIndex(in.i64()).setTerm(in.i32())
                .setOperation(readOperation(in)).setSnapshotChunkIndex(in.i32()).setSnapshotChunkCount(in.i32())
                .setGroupMembersView(readMembersView(in)).build();
    }

    public static void writeMembersView(Writer out, RaftGroupMembersView view) {
        out.i64(view.getLogIndex());
        writeEndpoints(out, view.getMembers());
        writeEndpoints(out, view.getVotingMembers());
    }

    public static RaftGroupMembersView readMembersView(Reader in) {
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(in.i64()).setMembers(readEndpoints(in))
                .setVotingMembers(readEndpoints(in)).build();
    }

    public static void writeTermState(Writer out, RaftTermPersistentState state) {
        out.i32(state.getTerm()).bool(state.getVotedFor() != null);
        if (state.getVotedFor() != null) {
            writeMember(out, state.getVotedFor());
        }
    }

    public static RaftTermPersistentState readTermState(Reader in) {
        return MODEL.createRaftTermPersistentStateBuilder().setTerm(in.i32())
                .setVotedFor(in.bool() ? readMember(in) : null).build();
    }

    public static void writeEndpointState(Writer out, RaftEndpointPersistentState state) {
        writeMember(out, state.getLocalEndpoint());
        out.bool(state.isVoting());
    }

    public static RaftEndpointPersistentState readEndpointState(Reader in) {
        return MODEL.createRaftEndpointPersistentStateBuilder().setLocalEndpoint(readMember(in))
                .setVoting(in.bool()).build();
    }

    // -------------------------------------------------------------------------------------- operations

    public static void writeOperation(Writer out, Object operation) {
        switch (operation) {
            case Operation.Batch b -> CommandCodec.writeProposals(out.u8(OP_BATCH).i64(b.stampMillis()), b.proposals());
            case Operation.NewTerm t -> out.u8(OP_NEW_TERM).i32(t.term());
            case Operation.SnapshotPart p -> out.u8(OP_SNAPSHOT_PART).bytes(p.bytes());
            case UpdateRaftGroupMembersOp op -> {
                out.u8(OP_MEMBERS);
                writeEndpoints(out, op.getMembers());
                writeEndpoints(out, op.getVotingMembers());
                writeMember(out, op.getEndpoint());
                out.u8((byte) op.getMode().ordinal());
            }
            default -> throw new IllegalArgumentException("cannot encode operation " + operation.getClass().getName());
        }
    }

    public static Object readOperation(Reader in) {
        byte tag = in.u8();
        return switch (tag) {
            case OP_BATCH -> new Operation.Batch(in.i64(), CommandCodec.readProposals(in));
            case OP_NEW_TERM -> new Operation.NewTerm(in.i32());
            case OP_SNAPSHOT_PART -> new Operation.SnapshotPart(in.bytes());
            case OP_MEMBERS -> {
                var b = MODEL.createUpdateRaftGroupMembersOpBuilder().setMembers(readEndpoints(in))
                        .setVotingMembers(readEndpoints(in)).setEndpoint(readMember(in));
                int mode = in.u8();
                if (mode < 0 || mode >= MODES.length) {
                    throw new CodecException("unknown membership change mode " + mode);
                }
                yield b.setMode(MODES[mode]).build();
            }
            default -> throw new CodecException("unknown operation tag " + tag);
        };
    }

    /** The sequence numbers of proposals a leader answers for, count first. */
    private static Writer writeSeqs(Writer out, long[] seqs) {
        out.i32(seqs.length);
        for (long seq : seqs) {
            out.i64(seq);
        }
        return out;
    }

    private static long[] readSeqs(Reader in) {
        long[] seqs = new long[in.count(8)];
        for (int i = 0; i < seqs.length; i++) {
            seqs[i] = in.i64();
        }
        return seqs;
    }

    // --------------------------------------------------------------------------------------- endpoints

    private static void writeMember(Writer out, RaftEndpoint endpoint) {
        Member member = (Member) endpoint;
        out.i32(member.id()).string(member.peerUrl());
    }

    private static Member readMember(Reader in) {
        int id = in.i32();
        String url = in.string();
        if (id <= 0) {
            throw new CodecException("bad member id " + id);
        }
        return new Member(id, url);
    }

    private static void writeEndpoints(Writer out, Collection<RaftEndpoint> endpoints) {
        out.i32(endpoints.size());
        for (RaftEndpoint endpoint : endpoints) {
            writeMember(out, endpoint);
        }
    }

    private static List<RaftEndpoint> readEndpoints(Reader in) {
        int count = in.count(8);
        List<RaftEndpoint> endpoints = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            endpoints.add(readMember(in));
        }
        return endpoints;
    }
}
