package io.metcd.http;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Once a request has been answered, reads and drops what is left of its body, at most {@link #MAX_DRAINED_BYTES},
 * before the exchange ends: a value refused with 413 for its size (on its declared length, before a byte of it is
 * read, or a chunked one once past 1 MiB), or any request answered before its body was read.
 *
 * <p>Jetty answers such a request with {@code Connection: close}, then closes the connection as soon as more of the
 * body arrives. The kernel answers the bytes that still come with a reset, and a client still sending loses the answer:
 * one that reads only once it has sent its whole body gets "broken pipe" on its next write, and java.net.http's client
 * failed 2-11% of such PUTs of 1 to 8 MiB on loopback with "header parser received no bytes" instead of a 413. Read to
 * its end, the body leaves nothing for the kernel to reset: the client sends it and reads the answer, and the
 * connection stays open for its next request (RFC 9112, section 9.6, asks a server to close gently for this reason).
 *
 * <p>Not drained: a body with more than the bound left to come (its sender may still see a reset), a body whose
 * reading already failed (the client went away, or silent for the idle timeout), and the body of a client that waits
 * for "100 Continue" before sending it, since an answered request never invites it.
 */
final class UnreadBodyDrain extends Handler.Wrapper {
    /**
     * Enough to let a client finish sending a value a few times too large and read why it was refused; beyond it the
     * transfer costs more than a clear refusal is worth.
     */
    static final long MAX_DRAINED_BYTES = 8L * HttpApi.MAX_VALUE_BYTES;

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Drainable drainable = new Drainable(request);
        return super.handle(drainable, response, new Callback.Nested(callback) {
            @Override
            public void succeeded() {
                if (drainable.drains()) {
                    drainable.drain(MAX_DRAINED_BYTES, getCallback());
                } else {
                    getCallback().succeeded();
                }
            }
        });
    }

    /** The request as the handlers below see it, which remembers whether reading its body failed. */
    private static final class Drainable extends Request.Wrapper {
        private volatile boolean readFailed;

        Drainable(Request request) {
            super(request);
        }

        @Override
        public Content.Chunk read() {
            Content.Chunk chunk = super.read();
            if (Content.Chunk.isFailure(chunk)) {
                readFailed = true;
            }
            return chunk;
        }

        /**
         * What the servlet layer asks before it commits an answer to a request whose body is left: answered "all read"
         * for a body that will be drained, so that the answer keeps the connection open and the draining has the body
         * to read (Jetty's own attempt reads what has arrived, then fails the rest unread and closes the connection).
         */
        @Override
        public boolean consumeAvailable() {
            return drains() || super.consumeAvailable();
        }

        /** Whether what is left of the body is drained once the request is answered. */
        boolean drains() {
            return !readFailed && !awaitsContinue() && left() <= MAX_DRAINED_BYTES;
        }

        /** Whether the client still waits to be asked for the body it announced. */
        private boolean awaitsContinue() {
            return getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString())
                    && Request.getContentBytesRead(this) == 0;
        }

        /** The bytes of the body still to come when its length is declared, else 0. */
        private long left() {
            long length = getLength();
            return length < 0 ? 0 : length - Request.getContentBytesRead(this);
        }

        /**
         * Reads and drops the body until its end, a failure or more than {@code budget} bytes, then completes
         * {@code done}; waits for the client without holding a thread.
         */
        void drain(long budget, Callback done) {
            long left = budget;
            while (true) {
                Content.Chunk chunk = read();
                if (chunk == null) {
                    long remaining = left;
                    demand(() -> drain(remaining, done));
                    return;
                }
                left -= chunk.remaining();
                chunk.release();
                if (chunk.isLast() || Content.Chunk.isFailure(chunk) || left < 0) {
                    done.succeeded();
                    return;
                }
            }
        }
    }
}
