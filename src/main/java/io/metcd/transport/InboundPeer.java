package io.metcd.transport;

import io.metcd.codec.Codec;
import io.metcd.codec.CodecException;
import io.metcd.codec.Reader;
import io.microraft.model.message.RaftMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The inbound half of a link: one connection a peer dialed to this node, read until it ends or breaks the protocol.
 * The peer first introduces itself ({@link Handshake}), read on the virtual thread the connection was accepted for;
 * then every frame's message is handed to {@link PeerTransport}, which delivers it, read on a platform thread of the
 * connection's own. So once a peer is connected, its Raft messages never wait for a virtual thread carrier busy with
 * client work (see {@link PeerTransport}), while a stranger that connects and says nothing costs no more than a virtual
 * thread. A peer that connects again while the carriers are all busy waits for one to read its handshake.
 */
final class InboundPeer {
    private static final Logger LOG = LoggerFactory.getLogger(InboundPeer.class);
    /** A dialer that does not introduce itself within this time is not a peer worth a thread. */
    private static final int HANDSHAKE_TIMEOUT_MS = 5000;
    private static final int BUFFER_BYTES = 64 * 1024;
    /** A frame buffer that a rare large frame (a snapshot chunk) grew past this is not kept. */
    private static final int RETAINED_BUFFER_BYTES = 1 << 20;

    private final PeerTransport transport;
    private final Socket socket;
    private final SocketAddress remote;
    /** The member that dialed, once its handshake is read; 0 before. */
    private int peerId;

    InboundPeer(PeerTransport transport, Socket socket) {
        this.transport = transport;
        this.socket = socket;
        this.remote = socket.getRemoteSocketAddress();
    }

    /** Reads the connection until it ends or breaks the protocol, then closes it. */
    void serve() {
        try (socket) {
            DataInputStream in = new DataInputStream(new BufferedInputStream(socket.getInputStream(), BUFFER_BYTES));
            socket.setSoTimeout(HANDSHAKE_TIMEOUT_MS);
            Handshake.Peer peer = Handshake.read(in, transport.groupId());
            peerId = peer.memberId();
            socket.setSoTimeout(0);
            AtomicLong heard = transport.connected(peer, socket);
            LOG.info("accepted connection from member {} at {}", peerId, remote);
            readFramesOnAPlatformThread(in, heard);
            LOG.info("member {} at {} closed its connection", peerId, remote);
        } catch (ProtocolException | CodecException | SocketTimeoutException e) {
            if (!transport.isClosed()) {
                LOG.warn("closing peer connection from {}{}: {}", remote, member(), e.getMessage());
            }
        } catch (IOException e) {
            if (!transport.isClosed()) {
                LOG.info("peer connection from {}{} ended: {}", remote, member(), e.toString());
            }
        } finally {
            transport.disconnected(peerId, socket);
        }
    }

    private String member() {
        return peerId > 0 ? " (member " + peerId + ")" : "";
    }

    /**
     * {@link #readFrames} on a platform thread started for it, which this thread waits for; what it throws is thrown
     * here, so that {@link #serve} reports it as it reports a broken handshake. The transport ends both by closing the
     * socket; interrupted, this thread gives up waiting at once, and the other ends as the socket closes.
     */
    private void readFramesOnAPlatformThread(DataInputStream in, AtomicLong heard) throws IOException {
        Throwable[] failure = new Throwable[1];
        Thread frames = Thread.ofPlatform().daemon().name(Thread.currentThread().getName() + "-frames").start(() -> {
            try {
                readFrames(in, heard);
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        try {
            frames.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading frames");
        }
        switch (failure[0]) {
            case null -> { }
            case IOException e -> throw e;
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            default -> throw new IllegalStateException(failure[0]);
        }
    }

    /** Reads frames and hands their messages on; returns when the peer closes between frames. */
    private void readFrames(DataInputStream in, AtomicLong heard) throws IOException {
        String groupId = transport.groupId();
        int maxFrameLength = transport.maxFrameLength();
        byte[] buf = new byte[BUFFER_BYTES];
        boolean warnedGroup = false;
        while (true) {
            int first = in.read();
            if (first < 0) {
                return;
            }
            Object message;
            try {
                int length = (first << 24) | (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8)
                        | in.readUnsignedByte();
                if (length < 0 || length > maxFrameLength) {
                    throw new ProtocolException("frame length " + length + " outside 0.." + maxFrameLength);
                }
                buf = readPayload(in, buf, length);
                Reader reader = new Reader(ByteBuffer.wrap(buf, 0, length));
                message = Codec.readMessage(reader);
                if (reader.remaining() > 0) {
                    throw new CodecException(reader.remaining() + " stray bytes after a "
                            + message.getClass().getSimpleName());
                }
                if (length > RETAINED_BUFFER_BYTES) {
                    buf = new byte[BUFFER_BYTES];
                }
            } catch (EOFException e) {
                throw new ProtocolException("connection closed in the middle of a frame");
            }

            if (transport.faults().loses(peerId, message)) {
                transport.countDroppedByFaults();
                continue;
            }
            heard.set(System.nanoTime());
            if (message instanceof RaftMessage raft && !groupId.equals(raft.getGroupId())) {
                // The handshake vouched for the group, so this is a bug on the sender: say so once per connection.
                if (!warnedGroup) {
                    LOG.warn("dropping Raft messages of group '{}' from member {} (this is group '{}')",
                            raft.getGroupId(), peerId, groupId);
                    warnedGroup = true;
                }
                continue;
            }
            transport.received(message, peerId);
        }
    }

    /**
     * Reads a payload of {@code length} bytes into {@code buf}, or into a larger buffer grown as the bytes arrive and
     * returned. The length prefix alone allocates nothing: a few connections announcing frames near the limit and
     * sending nothing more would otherwise take the node's whole heap.
     */
    private static byte[] readPayload(DataInputStream in, byte[] buf, int length) throws IOException {
        int read = 0;
        while (read < length) {
            if (read == buf.length) {
                buf = Arrays.copyOf(buf, (int) Math.min(length, 2L * buf.length));
            }
            int n = in.read(buf, read, Math.min(length, buf.length) - read);
            if (n < 0) {
                throw new EOFException();
            }
            read += n;
        }
        return buf;
    }
}
