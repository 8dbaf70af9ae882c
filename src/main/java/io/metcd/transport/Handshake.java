package io.metcd.transport;

import io.metcd.codec.Writer;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.charset.StandardCharsets;

/**
 * The first bytes on every peer connection: the dialing node names the protocol, the Raft group and
 * itself, and the accepting node reads no frame from a connection whose handshake does not check out.
 * <p>
 * Layout, big-endian: magic {@code i32} (the ASCII bytes {@code "metc"}), protocol version {@code i32},
 * group id ({@code i32} length, then at most {@value #MAX_GROUP_ID_BYTES} bytes of UTF-8), sender member
 * id {@code i32}.
 */
final class Handshake {
    static final int MAGIC = 0x6D657463;
    static final int VERSION = 2;
    /** Group ids and URLs are short; the bound keeps a garbage length from allocating anything. */
    static final int MAX_GROUP_ID_BYTES = 256;

    /** Who dialled: its member id and the URL its clients use (which the cluster API reports and proxies to). */
    record Peer(int memberId, String clientUrl) {
    }

    private Handshake() {
    }

    /** The handshake that member {@code memberId} of {@code groupId}, serving clients on {@code clientUrl}, sends. */
    static byte[] encode(String groupId, int memberId, String clientUrl) {
        byte[] group = groupId.getBytes(StandardCharsets.UTF_8);
        byte[] url = clientUrl.getBytes(StandardCharsets.UTF_8);
        if (group.length > MAX_GROUP_ID_BYTES || url.length > MAX_GROUP_ID_BYTES) {
            throw new IllegalArgumentException("group id or client URL longer than " + MAX_GROUP_ID_BYTES
                    + " bytes: " + groupId + ", " + clientUrl);
        }
        return new Writer(20 + group.length + url.length).i32(MAGIC).i32(VERSION).bytes(group).i32(memberId)
                .bytes(url).toByteArray();
    }

    /**
     * Reads a handshake and returns who sent it.
     *
     * @throws ProtocolException if the bytes are not a handshake of this protocol version for
     *             {@code expectedGroupId}, or the connection ends in the middle of one
     */
    static Peer read(DataInputStream in, String expectedGroupId) throws IOException {
        try {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new ProtocolException(String.format("not a metcd peer (magic 0x%08x)", magic));
            }
            int version = in.readInt();
            if (version != VERSION) {
                throw new ProtocolException("protocol version " + version + ", this node speaks " + VERSION);
            }
            String groupId = readString(in, "group id");
            if (!groupId.equals(expectedGroupId)) {
                throw new ProtocolException("peer of group '" + groupId + "', this node is in '" + expectedGroupId
                        + "'");
            }
            int memberId = in.readInt();
            if (memberId <= 0) {
                throw new ProtocolException("bad member id " + memberId);
            }
            return new Peer(memberId, readString(in, "client URL"));
        } catch (EOFException e) {
            throw new ProtocolException("connection closed during the handshake");
        }
    }

    private static String readString(DataInputStream in, String what) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > MAX_GROUP_ID_BYTES) {
            throw new ProtocolException("bad " + what + " length " + length);
        }
        byte[] bytes = new byte[length];
        in.readFully(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }
}
