package io.metcd.http;

import io.javalin.http.BadRequestResponse;
import io.javalin.http.Context;
import io.javalin.http.HttpStatus;
import io.javalin.http.NotFoundResponse;
import io.metcd.kv.KVStore;
import io.metcd.model.CrashPoint;
import io.metcd.raft.ClusterAdmin;
import io.metcd.transport.NetworkFaults;
import io.metcd.wal.SnapshotFiles;

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The admin requests of {@code --test-faults}, for the fault-injection suite ({@code make chaos}), the kill -9 tests and
 * the overload test: they fault this node's links to its peers (see {@link NetworkFaults}), shorten its request
 * timeout, arm a crash point, and tell the newest snapshot's digest. A node started without that flag has none of these
 * routes.
 * <ul>
 * <li>{@code PUT /-/test/faults/{peer}?loss=0..1&delay-ms=N}: faults the link with member {@code peer}
 * ({@code loss=1} is a partition); 204</li>
 * <li>{@code DELETE /-/test/faults}: heals every link; 204</li>
 * <li>{@code GET /-/test/faults}: the faulted links as JSON, by peer id</li>
 * <li>{@code PUT /-/test/request-timeout?ms=N}: the requests that reach this node from then on time out after N ms
 * instead of {@link KVStore#REQUEST_TIMEOUT} (1 to that); 204</li>
 * <li>{@code DELETE /-/test/request-timeout}: back to {@link KVStore#REQUEST_TIMEOUT}; 204</li>
 * <li>{@code PUT /-/test/crash/{point}}: the process halts, as kill -9 would, when it next reaches that step
 * ({@link CrashPoint}, lower case with dashes: {@code snapshot-half-written}); 204</li>
 * <li>{@code GET /-/test/snapshot}: the newest durable snapshot's {@code index} and {@code digest}, as JSON; 404
 * while there is none</li>
 * </ul>
 */
final class FaultInjectionApi {
    static final String PATH = "/-/test/faults";
    static final String REQUEST_TIMEOUT_PATH = "/-/test/request-timeout";
    static final String CRASH_PATH = "/-/test/crash";
    static final String SNAPSHOT_PATH = "/-/test/snapshot";
    private final NetworkFaults faults;
    private final KVStore store;
    private final ClusterAdmin cluster;

    FaultInjectionApi(NetworkFaults faults, KVStore store, ClusterAdmin cluster) {
        this.faults = faults;
        this.store = store;
        this.cluster = cluster;
    }

    void armCrash(Context ctx) {
        String point = ctx.pathParam("point");
        try {
            CrashPoint.arm(CrashPoint.valueOf(point.toUpperCase(Locale.ROOT).replace('-', '_')));
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse("no crash point " + point + "; there are "
                    + Arrays.stream(CrashPoint.values()).map(c -> c.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                    .toList());
        }
        ctx.status(HttpStatus.NO_CONTENT);
    }

    void snapshot(Context ctx) {
        SnapshotFiles.Digest digest = cluster.snapshotDigest()
                .orElseThrow(() -> new NotFoundResponse("no durable snapshot yet"));
        ctx.json(Map.of("index", digest.index(), "digest", digest.sha256()));
    }

    void set(Context ctx) {
        long peer = parse(ctx.pathParam("peer"), "peer", Long::parseLong);
        if (peer < 1 || peer > Integer.MAX_VALUE) {
            throw new BadRequestResponse("peer must be a member id, not " + peer);
        }
        double loss = parse(orZero(ctx.queryParam("loss")), "loss", Double::parseDouble);
        long delayMs = parse(orZero(ctx.queryParam("delay-ms")), "delay-ms", Long::parseLong);
        try {
            faults.set((int) peer, new NetworkFaults.Link(loss, Duration.ofMillis(delayMs)));
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(e.getMessage());
        }
        ctx.status(HttpStatus.NO_CONTENT);
    }

    void healAll(Context ctx) {
        faults.healAll();
        ctx.status(HttpStatus.NO_CONTENT);
    }

    void shortenRequestTimeout(Context ctx) {
        long ms = parse(orZero(ctx.queryParam("ms")), "ms", Long::parseLong);
        try {
            store.requestTimeout(Duration.ofMillis(ms));
        } catch (IllegalArgumentException e) {
            throw new BadRequestResponse(e.getMessage());
        }
        ctx.status(HttpStatus.NO_CONTENT);
    }

    void restoreRequestTimeout(Context ctx) {
        store.requestTimeout(KVStore.REQUEST_TIMEOUT);
        ctx.status(HttpStatus.NO_CONTENT);
    }

    void list(Context ctx) {
        Map<String, Object> links = new LinkedHashMap<>();
        faults.links().forEach((peer, link) -> links.put(peer.toString(),
                Map.of("loss", link.lossRate(), "delayMs", link.delay().toMillis())));
        ctx.json(links);
    }

    private static String orZero(String parameter) {
        return parameter == null ? "0" : parameter;
    }

    private static <T> T parse(String text, String name, Function<String, T> parser) {
        try {
            return parser.apply(text);
        } catch (NumberFormatException e) {
            throw new BadRequestResponse(name + " must be a number, not '" + text + "'");
        }
    }
}
