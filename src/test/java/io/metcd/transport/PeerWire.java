package io.metcd.transport;

import io.metcd.codec.Codec;
import io.metcd.codec.Writer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Raw bytes for a peer port, well-formed or not, and the check that a node closes a connection that sent bad ones. */
final class PeerWire {
    /** The client URL that made-up peers announce: nothing listens there. */
    static final String NOWHERE = "http://127.0.0.1:1";
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private PeerWire() {
    }

    /** The handshake a made-up member {@code memberId} of {@code group} sends. */
    static byte[] handshake(String group, int memberId) {
        return Handshake.encode(group, memberId, NOWHERE);
    }

    /** {@code message} as one frame: its length, then its encoding. */
    static byte[] frame(Object message) {
        Writer out = new Writer(64).i32(0);
        Codec.writeMessage(out, message);
        out.putI32(0, out.length() - Integer.BYTES);
        return out.toByteArray();
    }

    static byte[] i32(int value) {
        return new Writer(4).i32(value).toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        byte[] all = new byte[length];
        int at = 0;
        for (byte[] part : parts) {
            System.arraycopy(part, 0, all, at, part.length);
            at += part.length;
        }
        return all;
    }

    /**
     * Writes {@code bytes} on a new connection to {@code port}, and ends our side of it if asked, then checks that the
     * node there closes the connection.
     */
    static void assertConnectionClosedAfter(int port, byte[] bytes, boolean thenEndOutput) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
            try {
                OutputStream out = socket.getOutputStream();
                out.write(bytes);
                out.flush();
                if (thenEndOutput) {
                    socket.shutdownOutput();
                }
            } catch (SocketException e) {
                return; // the node already closed it, and reset the connection
            }
            socket.setSoTimeout((int) PATIENCE.toMillis());
            try {
                assertEquals(-1, socket.getInputStream().read());
            } catch (SocketException e) {
                // Reset: the node closed the connection with our bytes unread.
            }
        }
    }
}
