package io.metcd.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Server-Sent Events client of one node's {@code GET /-/watch}, as a browser's EventSource reads it: lines, fields,
 * a blank line ending each message. It reads on a virtual thread of its own and keeps what came: the events (with the
 * key, value and revision of their data), the comments, the last {@code id:} and whether the stream ended.
 */
public final class WatchStream implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern STARTED = Pattern.compile("watching after revision (\\d+)");

    /**
     * One event: {@code type} put or delete, {@code id} as its {@code id:} line gave it; {@code value} is
     * {@code null} for a delete, and the Base64 text of a value that is not UTF-8 is in {@code valueBase64}.
     */
    public record Change(long id, String type, String key, String value, String valueBase64, long revision) {
        @Override
        public String toString() {
            return revision + " " + type + " " + key + (value == null ? "" : "=" + value);
        }
    }

    public final int status;
    /** The body of an answer other than 200. */
    public final String refusal;
    public final String contentType;
    private final List<Change> changes = new CopyOnWriteArrayList<>();
    private final List<String> comments = new CopyOnWriteArrayList<>();
    private final InputStream body;
    private final CountDownLatch end = new CountDownLatch(1);
    private volatile long lastEventId = -1;
    private volatile long lastReadNanos = System.nanoTime();
    private volatile boolean ended;
    private volatile Throwable failure;

    private WatchStream(HttpResponse<InputStream> response) throws IOException {
        status = response.statusCode();
        contentType = response.headers().firstValue("Content-Type").orElse("");
        body = response.body();
        if (status != 200) {
            refusal = new String(body.readAllBytes(), StandardCharsets.UTF_8);
            ended = true;
            end.countDown();
        } else {
            refusal = null;
            Thread.ofVirtual().name("watch-stream").start(this::read);
        }
    }

    /**
     * Opens {@code GET /-/watch?query} on the node at {@code base} ({@code http://address:port}), with headers given as
     * name and value in turn (such as {@code Last-Event-ID}).
     */
    public static WatchStream open(String base, String query, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + "/-/watch?" + query))
                .timeout(Duration.ofSeconds(15));
        if (headers.length > 0) {
            request.headers(headers);
        }
        try {
            return new WatchStream(HTTP.send(request.GET().build(), HttpResponse.BodyHandlers.ofInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public static WatchStream open(int port, String query, String... headers) {
        return open("http://127.0.0.1:" + port, query, headers);
    }

    private void read() {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
            String id = null;
            String event = null;
            String data = null;
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                lastReadNanos = System.nanoTime();
                if (line.isEmpty()) {
                    if (id != null) {
                        lastEventId = Long.parseLong(id);
                    }
                    if (data != null) {
                        changes.add(change(lastEventId, event, data));
                    }
                    id = event = data = null;
                } else if (line.startsWith(":")) {
                    comments.add(line.substring(1).strip());
                } else if (line.startsWith("id: ")) {
                    id = line.substring(4);
                } else if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data = line.substring(6);
                } else {
                    throw new IllegalStateException("not a line of the watch's events: " + line);
                }
            }
        } catch (IOException e) {
            // closed by this side, or the connection broke: the stream ended either way
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            ended = true;
            end.countDown();
        }
    }

    private static Change change(long id, String type, String data) throws IOException {
        JsonNode json = JSON.readTree(data);
        return new Change(id, type, json.get("key").asText(), json.has("value") ? json.get("value").asText() : null,
                json.has("valueBase64") ? json.get("valueBase64").asText() : null, json.get("revision").asLong());
    }

    /** The events received so far, in the order they came. */
    public List<Change> changes() {
        failIfMalformed();
        return List.copyOf(changes);
    }

    public List<String> comments() {
        failIfMalformed();
        return List.copyOf(comments);
    }

    /** The last {@code id:} the stream gave (what an EventSource would send as Last-Event-ID), or -1. */
    public long lastEventId() {
        return lastEventId;
    }

    /** The revision the stream said it starts after, once its first comment came, or -1. */
    public long startedAfter() {
        for (String comment : comments()) {
            Matcher m = STARTED.matcher(comment);
            if (m.matches()) {
                return Long.parseLong(m.group(1));
            }
        }
        return -1;
    }

    public boolean ended() {
        failIfMalformed();
        return ended;
    }

    /** Waits up to {@code timeout} for the stream to end; whether it did. */
    public boolean awaitEnd(Duration timeout) throws InterruptedException {
        return end.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** How long the stream has been silent: no line, not even a comment. */
    public Duration silence() {
        return Duration.ofNanos(System.nanoTime() - lastReadNanos);
    }

    private void failIfMalformed() {
        if (failure != null) {
            throw new AssertionError("malformed watch stream", failure);
        }
    }

    /** Closes the connection. */
    @Override
    public void close() {
        try {
            body.close();
        } catch (IOException e) {
            // closing anyway
        }
    }
}
