package io.metcd.chaos;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

/**
 * One client of the chaos workload: PUTs of unique values and {@code consistent} GETs on a few keys, one
 * at a time, each to a node picked at random (so followers forward), every one recorded as an {@link Op}
 * with what the client can know of its outcome.
 */
final class RecordingClient {
    /** Longer than the server's own 5 s request timeout, so that a live node answers before the client gives up. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(7);
    /** How long a client waits after an operation that was not acknowledged before it sends another. */
    static final Duration BACK_OFF = Duration.ofMillis(100);

    private final int id;
    private final List<String> keys;
    private final IntFunction<String> urlOfNode;
    private final int nodes;
    private final Random random;
    private final HttpClient http = newHttpClient();
    private long written;

    /** @param urlOfNode where node N serves clients, {@code http://address:port} */
    RecordingClient(int id, List<String> keys, int nodes, IntFunction<String> urlOfNode, long seed) {
        this.id = id;
        this.keys = keys;
        this.nodes = nodes;
        this.urlOfNode = urlOfNode;
        this.random = new Random(seed);
    }

    /** Issues one random operation and returns its record; after a refused connection, backs off first. */
    Op next() throws InterruptedException {
        String key = keys.get(random.nextInt(keys.size()));
        int node = 1 + random.nextInt(nodes);
        Op op = random.nextBoolean() ? write(node, key, "c" + id + "-" + ++written) : read(node, key);
        if (op.outcome() != Op.Outcome.OK) {
            // As a real client would, rather than spinning on a node that is down.
            Thread.sleep(BACK_OFF);
        }
        return op;
    }

    Op write(int node, String key, String value) {
        HttpRequest request = request(node, key).PUT(HttpRequest.BodyPublishers.ofString(value)).build();
        long invoked = System.nanoTime();
        try {
            int status = http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
            // A 503 may come after the write was proposed ("it may still be applied"): only a 204 is certain,
            // and no other answer is certain to mean it was not applied.
            Op.Outcome outcome = status == 204 ? Op.Outcome.OK : Op.Outcome.UNKNOWN;
            return Op.write(id, key, value, invoked, System.nanoTime(), outcome);
        } catch (IOException e) {
            return Op.write(id, key, value, invoked, System.nanoTime(),
                    neverSent(e) ? Op.Outcome.FAILED : Op.Outcome.UNKNOWN);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Op.write(id, key, value, invoked, System.nanoTime(), Op.Outcome.UNKNOWN);
        }
    }

    Op read(int node, String key) {
        HttpRequest request = request(node, key + "?level=consistent").GET().build();
        long invoked = System.nanoTime();
        try {
            HttpResponse<String> answer = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            long completed = System.nanoTime();
            return switch (answer.statusCode()) {
                case 200 -> Op.read(id, key, answer.body(), invoked, completed, Op.Outcome.OK);
                case 404 -> Op.read(id, key, null, invoked, completed, Op.Outcome.OK);
                default -> Op.read(id, key, null, invoked, completed, Op.Outcome.FAILED);
            };
        } catch (IOException e) {
            return Op.read(id, key, null, invoked, System.nanoTime(),
                    neverSent(e) ? Op.Outcome.FAILED : Op.Outcome.UNKNOWN);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Op.read(id, key, null, invoked, System.nanoTime(), Op.Outcome.UNKNOWN);
        }
    }

    /** An HTTP/1.1 client that gives up connecting after 1 s, as every HTTP client of the workload is. */
    static HttpClient newHttpClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1))
                .build();
    }

    /** A refused or timed-out connection: the request never reached the node. */
    static boolean neverSent(IOException e) {
        return e instanceof ConnectException || e instanceof HttpConnectTimeoutException
                || (!(e instanceof HttpTimeoutException) && e.getCause() instanceof ConnectException);
    }

    private HttpRequest.Builder request(int node, String path) {
        return HttpRequest.newBuilder(URI.create(urlOfNode.apply(node) + "/" + path))
                .timeout(REQUEST_TIMEOUT);
    }
}
