package io.metcd.codec;

import io.metcd.model.Command;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.microraft.MembershipChangeMode;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoding never trusts its input: whatever bytes arrive (random, corrupted, cut short, with lengths far beyond what is
 * there, unknown tags), it answers with a value or a {@link CodecException}, before anything large is allocated.
 */
class MalformedInputTest extends CodecFixtures {
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

    /** A time to live of 0 ms, or a conditional delete of two keys: what a command's constructor refuses. */
    @Test
    void aCommandItsConstructorWouldRefuseIsRejected() {
        byte[] ttl = encodeOperation(new Operation.Batch(0, List.of(new Operation.Proposal(1, 1,
                new Command.Put("k", new byte[0], Command.Condition.NONE, Command.Expiry.after(1), false)))));
        ttl[ttl.length - 2] = 0; // the time to live's last byte, before "return previous"
        CodecException e = assertThrows(CodecException.class, () -> Codec.readOperation(new Reader(ttl)));
        assertTrue(e.getMessage().contains("bad command"), e.getMessage());

        byte[] delete = encodeOperation(new Operation.Batch(0, List.of(new Operation.Proposal(1, 1,
                new Command.Delete(List.of("a", "b"), Command.Condition.NONE)))));
        delete[delete.length - 1] = 1; // the condition's tag: absent
        assertThrows(CodecException.class, () -> Codec.readOperation(new Reader(delete)));
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
