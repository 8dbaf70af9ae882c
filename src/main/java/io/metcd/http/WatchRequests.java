package io.metcd.http;

import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.HttpStatus;
import io.metcd.kv.Event;
import io.metcd.watch.Filter;
import io.metcd.watch.Watcher;
import io.metcd.watch.Watches;
import org.eclipse.jetty.ee10.servlet.HttpOutput;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.ByteBufferPool;
import org.eclipse.jetty.io.RetainableByteBuffer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static io.metcd.http.HttpApi.fail;

/**
 * {@code GET /-/watch?prefix=P} or {@code ?key=K}, from {@code from=REV} or after {@code Last-Event-ID: REV}: the
 * events of the node's {@link Watches} as Server-Sent Events, one per changed key ({@code id:} its revision,
 * {@code event: put} or {@code delete}, {@code data:} the key, value and revision in JSON: {@link EventFrames}, encoded
 * once for all the streams), the events a watcher reads at once written together (in writes of up to
 * {@link #MAX_WRITE_BYTES}) before it waits again. The stream opens with a
 * comment naming the revision it starts after, carries a comment every {@link #KEEP_ALIVE} it has nothing to send,
 * and, when it ends from this side (the watcher fell more than the history behind, or the node stops), a last comment
 * saying why and an {@code id:} line with the last revision it read, so that a client (an EventSource) resumes after
 * it without missing a revision it was not told of.
 * <p>
 * Each stream holds a virtual thread, parked while there is nothing to send.
 */
final class WatchRequests implements AutoCloseable {
    static final Duration KEEP_ALIVE = Duration.ofSeconds(10);
    /** A client that takes no bytes this long loses its stream: three comments it did not read. */
    static final Duration STALLED = KEEP_ALIVE.multipliedBy(3);
    /** About how much one write to a stream holds (one revision at least, however large). */
    static final long MAX_BATCH_BYTES = 256 << 10;
    static final int RESPONSE_BUFFER_BYTES = 2048;
    /** The most one write of events holds: a buffer taken from the server's pool for that write alone. */
    static final int MAX_WRITE_BYTES = 32 << 10;
    /** About what an event's frame holds besides its key and value, to size the buffer it is written through. */
    static final int FRAME_OVERHEAD_BYTES = 96;
    private static final byte[] KEEP_ALIVE_COMMENT = ":\n\n".getBytes(StandardCharsets.US_ASCII);

    private final Watches watches;
    private final EventFrames frames = new EventFrames();
    private final Set<Watcher> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closing;

    WatchRequests(Watches watches) {
        this.watches = watches;
    }

    void watch(Context ctx) throws InterruptedException {
        Filter filter = filter(ctx);
        OptionalLong after = after(ctx);
        Watcher watcher;
        try {
            watcher = watches.watch(filter, after);
        } catch (Watches.Gone e) {
            throw new HttpResponseException(HttpStatus.GONE.getCode(), e.getMessage());
        }
        open.add(watcher);
        if (closing) {
            // The API closed between the two lines above: it did not see this one.
            watcher.close();
        }
        try (watcher) {
            ctx.status(HttpStatus.OK).contentType("text/event-stream");
            ctx.header("Cache-Control", "no-cache");
            ServletContextRequest request = ServletContextRequest.getServletContextRequest(ctx.req());
            request.getConnectionMetaData().getConnection().getEndPoint().setIdleTimeout(STALLED.toMillis());
            // Jetty's 32 KiB response buffer, held by each idle stream, would be most of what a watcher costs: the
            // events are written through a buffer of the server's pool, taken for each write, and this small one
            // holds the comments.
            ctx.res().setBufferSize(RESPONSE_BUFFER_BYTES);
            stream(watcher, request.getHttpOutput(), request.getComponents().getByteBufferPool(),
                    request.getConnectionMetaData().getHttpConfiguration().isUseOutputDirectByteBuffers());
        } catch (IOException e) {
            // The client went away.
        } finally {
            open.remove(watcher);
        }
    }

    private void stream(Watcher watcher, HttpOutput out, ByteBufferPool pool, boolean direct)
            throws IOException, InterruptedException {
        write(out, comment("watching after revision " + watcher.position()));
        try {
            while (true) {
                List<Event> events = watcher.next(KEEP_ALIVE, MAX_BATCH_BYTES);
                if (events.isEmpty()) {
                    write(out, KEEP_ALIVE_COMMENT);
                } else {
                    send(events, out, pool.acquire(bufferBytes(events), direct));
                }
            }
        } catch (Watcher.Behind e) {
            write(out, last(e.getMessage(), e.position()));
        } catch (Watcher.Closed e) {
            write(out, last("the node is stopping: resume on another", watcher.position()));
        }
    }

    /**
     * Writes the frames of {@code events} through {@code pooled}, a write each time it is full, and gives it back to
     * the pool once every write has returned. Through the response's own buffer it took a write every
     * {@link #RESPONSE_BUFFER_BYTES}, each of them most of a stream's work once the frames were no longer encoded for
     * each stream. A write that failed may still hold the buffer (an interrupted blocking write returns before the
     * endpoint lets go of it), so then the buffer is left to the garbage collector: back in the pool, another stream
     * could fill it while it is being sent.
     */
    private void send(List<Event> events, HttpOutput out, RetainableByteBuffer pooled) throws IOException {
        ByteBuffer buffer = pooled.getByteBuffer().clear();
        for (Event e : events) {
            byte[] frame = frames.frame(e);
            for (int at = 0; at < frame.length; ) {
                if (!buffer.hasRemaining()) {
                    out.write(buffer.flip());
                    buffer.clear();
                }
                int n = Math.min(buffer.remaining(), frame.length - at);
                buffer.put(frame, at, n);
                at += n;
            }
        }
        out.write(buffer.flip());
        pooled.release();
    }

    /** What to write {@code events} through: about their frames' size, within bounds the server's pool keeps. */
    private static int bufferBytes(List<Event> events) {
        long bytes = 0;
        for (Event e : events) {
            bytes += FRAME_OVERHEAD_BYTES + e.key().length() + (e.isDelete() ? 0 : e.value().length);
        }
        return (int) Math.clamp(bytes, RESPONSE_BUFFER_BYTES, MAX_WRITE_BYTES);
    }

    private static void write(OutputStream out, byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    private static byte[] comment(String text) {
        return (": " + text + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    /** A comment, and an id without an event: an EventSource's Last-Event-ID becomes {@code position}. */
    private static byte[] last(String why, long position) {
        return (": " + why + "\n" + "id: " + position + "\n\n").getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------------------ parameters

    private static Filter filter(Context ctx) {
        String prefix = KeyRequests.boundedKey(ctx, "prefix", null);
        String key = KeyRequests.boundedKey(ctx, "key", null);
        if (prefix != null && key != null) {
            fail(HttpStatus.BAD_REQUEST, "prefix and key together: watch one or the other");
        } else if (key != null) {
            if (key.isEmpty()) {
                fail(HttpStatus.BAD_REQUEST, "empty key");
            }
            return new Filter.Key(key);
        } else if (prefix == null) {
            fail(HttpStatus.BAD_REQUEST, "prefix= or key= is required (prefix= alone watches every key)");
        }
        return new Filter.Prefix(prefix);
    }

    /**
     * The revision to start after: {@code Last-Event-ID}'s, else the one before {@code from}, else none. The header
     * wins: an EventSource opened with {@code from} reconnects to the same URL with it.
     */
    private static OptionalLong after(Context ctx) {
        String lastEventId = ctx.header("Last-Event-ID");
        if (lastEventId != null) {
            return OptionalLong.of(revision(lastEventId.strip(), 0, "Last-Event-ID"));
        }
        String from = ctx.queryParam("from");
        return from == null ? OptionalLong.empty() : OptionalLong.of(revision(from, 1, "from") - 1);
    }

    private static long revision(String text, long least, String name) {
        if (text.matches("[0-9]{1,18}")) {
            long revision = Long.parseLong(text);
            if (revision >= least) {
                return revision;
            }
        }
        throw new HttpResponseException(HttpStatus.BAD_REQUEST.getCode(),
                name + " must be a revision: a whole number from " + least);
    }

    /** Ends every stream: each says the node is stopping and where to resume. */
    @Override
    public void close() {
        closing = true;
        open.forEach(Watcher::close);
    }
}
