package io.metcd.codec;

import io.metcd.model.Command;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.metcd.model.Result;
import io.microraft.MembershipChangeMode;
import io.microraft.model.groupop.UpdateRaftGroupMembersOp;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.InstallSnapshotRequest;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** What the codec's tests encode: one of every message, operation and persisted structure; and the helpers. */
abstract class CodecFixtures {
    static final DefaultRaftModelFactory MODEL = new DefaultRaftModelFactory();
    static final String GROUP = "metcd";
    static final Member M1 = new Member(1, "http://127.0.0.1:13379");
    static final Member M2 = new Member(2, "http://127.0.0.1:13380");
    static final Member M3 = new Member(3, "http://node-3.example:13381");

    // ------------------------------------------------------------------------------------- fixtures

    /** A batch with every kind of command, condition and expiry. */
    static Operation.Batch batch() {
        byte[] value = "value".getBytes(StandardCharsets.UTF_8);
        return new Operation.Batch(1_767_225_600_123L, List.of(
                new Operation.Proposal(1, 7, Command.put("a/key", value)),
                new Operation.Proposal(2, Long.MAX_VALUE, Command.delete("gone")),
                new Operation.Proposal(3, 0, Command.put("ключ ☃", new byte[0])),
                new Operation.Proposal(1, 8, new Command.Put("cas", value, Command.Condition.modRevision(41),
                        Command.Expiry.after(10_000), true)),
                new Operation.Proposal(1, 9, new Command.Put("nx", value, Command.Condition.ABSENT,
                        Command.Expiry.KEEP, false)),
                new Operation.Proposal(1, 10, new Command.Put("xx", value, Command.Condition.PRESENT,
                        Command.Expiry.NONE, true)),
                new Operation.Proposal(1, 11, new Command.Delete(List.of("a", "b", "c"), Command.Condition.NONE)),
                new Operation.Proposal(1, 12, new Command.Delete(List.of("a"), Command.Condition.modRevision(3))),
                new Operation.Proposal(1, 13, new Command.Increment("n", Long.MIN_VALUE)),
                new Operation.Proposal(1, 14, new Command.Append("s", value)),
                new Operation.Proposal(1, 15, new Command.PutAll(List.of(new Command.KeyValue("a", value),
                        new Command.KeyValue("b", new byte[0])))),
                new Operation.Proposal(1, 16, new Command.Expire("e", -5)),
                new Operation.Proposal(1, 17, new Command.Persist("p")),
                new Operation.Proposal(1, 18, new Command.ExpireDue(List.of(new Command.Due("x", 9),
                        new Command.Due("y", 10))))));
    }

    /** The leader's answer to forwarded writes, with every kind of result. */
    static PeerMessage.ProposalsCommitted committed() {
        return new PeerMessage.ProposalsCommitted(1, new long[] {3, Long.MAX_VALUE, 5, 6}, 41, List.of(
                new Result.Applied(17, null, 0), new Result.Applied(18, new byte[] {1, 2}, -4),
                new Result.Refused(Result.Refusal.PRECONDITION_FAILED, new byte[0]),
                new Result.Refused(Result.Refusal.TOO_LARGE, null)));
    }

    static UpdateRaftGroupMembersOp membersOp() {
        return MODEL.createUpdateRaftGroupMembersOpBuilder().setMembers(List.of(M1, M2, M3))
                .setVotingMembers(List.of(M1, M2)).setEndpoint(M3).setMode(MembershipChangeMode.ADD_LEARNER).build();
    }

    static LogEntry entry(long index, int term, Object operation) {
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(term).setOperation(operation).build();
    }

    static List<LogEntry> entries() {
        return List.of(entry(5, 2, batch()), entry(6, 3, new Operation.NewTerm(3)), entry(7, 3, membersOp()));
    }

    static RaftGroupMembersView view() {
        return MODEL.createRaftGroupMembersViewBuilder().setLogIndex(4).setMembers(List.of(M1, M2, M3))
                .setVotingMembers(List.of(M1, M3)).build();
    }

    static SnapshotChunk chunk() {
        byte[] bytes = new byte[256];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) i;
        }
        return MODEL.createSnapshotChunkBuilder().setIndex(40).setTerm(3)
                .setOperation(new Operation.SnapshotPart(bytes)).setSnapshotChunkIndex(1).setSnapshotChunkCount(3)
                .setGroupMembersView(view()).build();
    }

    static AppendEntriesRequest appendRequest(List<LogEntry> entries) {
        return MODEL.createAppendEntriesRequestBuilder().setGroupId(GROUP).setSender(M1).setTerm(Integer.MAX_VALUE)
                .setPreviousLogTerm(2).setPreviousLogIndex(4).setCommitIndex(Long.MAX_VALUE).setLogEntries(entries)
                .setQuerySequenceNumber(17).setFlowControlSequenceNumber(18).build();
    }

    static InstallSnapshotRequest installRequest(SnapshotChunk chunk) {
        return MODEL.createInstallSnapshotRequestBuilder().setGroupId(GROUP).setSender(M2).setTerm(3)
                .setSenderLeader(true).setSnapshotTerm(3).setSnapshotIndex(40).setTotalSnapshotChunkCount(3)
                .setSnapshotChunk(chunk).setSnapshottedMembers(List.of(M2, M3)).setGroupMembersView(view())
                .setQuerySequenceNumber(5).setFlowControlSequenceNumber(6).build();
    }

    /** One message of every type the codec knows, with every optional part present. */
    static List<Object> everyMessage() {
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
                committed(),
                new PeerMessage.ReadIndexRequest(3, 77, true),
                new PeerMessage.ReadIndexResponse(1, 77, -1),
                new PeerMessage.NotAMember(2));
    }

    // ------------------------------------------------------------------------------------- helpers

    static byte[] encode(Object message) {
        Writer out = new Writer(16);
        Codec.writeMessage(out, message);
        return out.toByteArray();
    }

    /** Decodes {@code bytes} with {@code read}, which must consume them exactly. */
    static <T> T decode(byte[] bytes, Function<Reader, T> read) {
        Reader in = new Reader(bytes);
        T value = read.apply(in);
        assertEquals(0, in.remaining(), "bytes left after decoding");
        return value;
    }

    static Object roundTrip(Object message) {
        return decode(encode(message), Codec::readMessage);
    }

    static <T> T roundTrip(T value, BiConsumer<Writer, T> write, Function<Reader, T> read) {
        Writer out = new Writer(16);
        write.accept(out, value);
        return decode(out.toByteArray(), read);
    }

    /** Decoding {@code bytes} either succeeds or fails with a {@link CodecException}, nothing else. */
    static void assertDecodesOrRejects(byte[] bytes) {
        try {
            Codec.readMessage(new Reader(bytes));
        } catch (CodecException expected) {
            // The outcome for almost all garbage.
        } catch (Throwable t) {
            fail("decoding " + HexFormat.of().formatHex(bytes) + " threw " + t, t);
        }
    }
}
