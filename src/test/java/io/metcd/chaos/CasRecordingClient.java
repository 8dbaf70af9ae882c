package io.metcd.chaos;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A client of the chaos workload doing optimistic concurrency over HTTP, as an etcd user does: a {@code consistent}
 * GET of a key, noting its {@code ETag}, then a PUT of a new unique value with {@code If-Match} that revision
 * ({@code If-None-Match: *} when the key was absent), each to a node picked at random. Both are recorded for the
 * {@link CasRegister} model: the read with the revision it reported, the PUT as a {@link Op.Kind#CAS} expecting that
 * revision, {@code OK} on {@code 204} (with the revision it made), {@code FAILED} on {@code 412} (the store refused
 * it: nothing changed), and otherwise as {@link RecordingClient} records a write.
 */
final class CasRecordingClient {
    private static final Pattern ETAG = Pattern.compile("^(?:W/)?\"(\\d+)\"$");

    private final int id;
    private final List<String> keys;
    private final IntFunction<String> urlOfNode;
    private final int nodes;
    private final Random random;
    private final HttpClient http = RecordingClient.newHttpClient();
    private long written;

    /** @param urlOfNode where node N serves clients, {@code http://address:port} */
    CasRecordingClient(int id, List<String> keys, int nodes, IntFunction<String> urlOfNode, long seed) {
        this.id = id;
        this.keys = keys;
        this.nodes = nodes;
        this.urlOfNode = urlOfNode;
        this.random = new Random(seed);
    }

    /** A read of a random key and, if it was answered, a CAS on what it read; their records. */
    List<Op> next() throws InterruptedException {
        String key = keys.get(random.nextInt(keys.size()));
        Op read = read(1 + random.nextInt(nodes), key);
        List<Op> ops = read.outcome() == Op.Outcome.OK
                ? List.of(read, cas(1 + random.nextInt(nodes), key,
                        read.value() == null ? Op.ABSENT : read.revision(), "x" + id + "-" + ++written))
                : List.of(read);
        if (ops.getLast().outcome() == Op.Outcome.UNKNOWN || read.outcome() != Op.Outcome.OK) {
            Thread.sleep(RecordingClient.BACK_OFF);
        }
        return ops;
    }

    private Op read(int node, String key) {
        HttpRequest request = request(node, key + "?level=consistent").GET().build();
        long invoked = System.nanoTime();
        try {
            HttpResponse<String> answer = http.send(request,
                    HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            long completed = System.nanoTime();
            Optional<Long> revision = revision(answer);
            return switch (answer.statusCode()) {
                case 200 -> revision.isPresent()
                        ? Op.read(id, key, answer.body(), revision.get(), invoked, completed, Op.Outcome.OK)
                        // Without its revision the read cannot be followed by a CAS: count it as not answered.
                        : Op.read(id, key, null, invoked, completed, Op.Outcome.FAILED);
                case 404 -> Op.read(id, key, null, invoked, completed, Op.Outcome.OK);
                default -> Op.read(id, key, null, invoked, completed, Op.Outcome.FAILED);
            };
        } catch (IOException e) {
            return Op.read(id, key, null, invoked, System.nanoTime(),
                    RecordingClient.neverSent(e) ? Op.Outcome.FAILED : Op.Outcome.UNKNOWN);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Op.read(id, key, null, invoked, System.nanoTime(), Op.Outcome.UNKNOWN);
        }
    }

    private Op cas(int node, String key, long expected, String value) {
        HttpRequest.Builder builder = request(node, key).PUT(HttpRequest.BodyPublishers.ofString(value));
        HttpRequest request = (expected == Op.ABSENT ? builder.header("If-None-Match", "*")
                : builder.header("If-Match", "\"" + expected + "\"")).build();
        long invoked = System.nanoTime();
        try {
            HttpResponse<Void> answer = http.send(request, HttpResponse.BodyHandlers.discarding());
            long completed = System.nanoTime();
            return switch (answer.statusCode()) {
                case 204 -> Op.cas(id, key, expected, value, revision(answer).orElse(Op.NO_REVISION), invoked,
                        completed, Op.Outcome.OK);
                case 412 -> Op.cas(id, key, expected, value, Op.NO_REVISION, invoked, completed, Op.Outcome.FAILED);
                // A 503 may come after the write was proposed: only 204 and 412 are certain.
                default -> Op.cas(id, key, expected, value, Op.NO_REVISION, invoked, completed, Op.Outcome.UNKNOWN);
            };
        } catch (IOException e) {
            return Op.cas(id, key, expected, value, Op.NO_REVISION, invoked, System.nanoTime(),
                    RecordingClient.neverSent(e) ? Op.Outcome.FAILED : Op.Outcome.UNKNOWN);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Op.cas(id, key, expected, value, Op.NO_REVISION, invoked, System.nanoTime(), Op.Outcome.UNKNOWN);
        }
    }

    /** The key's revision from the answer's {@code ETag}, if it has one. */
    private static Optional<Long> revision(HttpResponse<?> answer) {
        return answer.headers().firstValue("ETag").map(ETAG::matcher).filter(Matcher::matches)
                .map(m -> Long.parseLong(m.group(1)));
    }

    private HttpRequest.Builder request(int node, String path) {
        return HttpRequest.newBuilder(URI.create(urlOfNode.apply(node) + "/" + path))
                .timeout(RecordingClient.REQUEST_TIMEOUT);
    }
}
