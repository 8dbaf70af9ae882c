package io.metcd.http;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.HttpStatus;
import io.javalin.router.Endpoint;
import io.metcd.kv.KVStore;
import io.metcd.metrics.HttpMetrics;
import io.metcd.model.Command;
import io.metcd.model.Unavailable;
import io.metcd.raft.ClusterAdmin;
import io.metcd.raft.MembershipRequests;
import io.metcd.transport.NetworkFaults;
import io.metcd.watch.Watches;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The client API (raftexample's httpapi.go): keys under {@code /} ({@link KeyRequests}), watches
 * ({@link WatchRequests}) and the cluster API under {@code /-/}. It parses requests and turns outcomes into status
 * codes; the waiting, retrying and forwarding happen below it, in the {@link KVStore}, the {@link ClusterAdmin} and
 * its {@link MembershipRequests}. Every node answers every request.
 */
public final class HttpApi implements AutoCloseable {
    public static final int MAX_KEY_BYTES = 4096;
    public static final int MAX_VALUE_BYTES = Command.MAX_VALUE_BYTES;
    /** Request line plus headers: a longest key with every byte percent-encoded (3 x 4096) fits, with room to spare. */
    static final int MAX_REQUEST_HEAD_BYTES = 16 * 1024;
    /**
     * A client silent this long, mid-request or between requests, loses its connection (and the virtual thread
     * blocked reading its body): no working client pauses that long while sending. A request being handled is not
     * affected, however long it waits for a commit.
     */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(10);
    /**
     * New connections the kernel completes and holds until the server accepts them. Java's default of 50 drops the
     * connection attempts of a burst of clients beyond it, which retry after 1 s and then 3 s, so that clients with a
     * short connect timeout fail while the node has room for them (OverloadTest). Linux caps it at net.core.somaxconn.
     */
    static final int ACCEPT_QUEUE = 1024;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final String RETRY_AFTER_SECONDS = "1";

    private final KVStore store;
    private final ClusterAdmin cluster;
    private final MembershipRequests membership;
    private final HttpMetrics metrics;
    private final WatchRequests watchRequests;
    private final Javalin app;
    /** The one connector, made when the server starts. */
    private volatile ServerConnector connector;

    /**
     * @param faults the link faults to let clients inject if {@code --test-faults} was given, and with them the rest of
     *               {@link FaultInjectionApi}
     */
    public HttpApi(KVStore store, ClusterAdmin cluster, Watches watches, Optional<NetworkFaults> faults,
            HttpMetrics metrics) {
        this.store = store;
        this.cluster = cluster;
        this.membership = new MembershipRequests(cluster);
        this.metrics = metrics;
        this.watchRequests = new WatchRequests(watches);
        KeyRequests keys = new KeyRequests(store);
        this.app = Javalin.create(cfg -> {
            cfg.concurrency.useVirtualThreads = true;
            cfg.http.maxRequestSize = MAX_VALUE_BYTES;
            cfg.http.prefer405over404 = true;
            cfg.router.ignoreTrailingSlashes = false;
            cfg.startup.showJavalinBanner = false;
            cfg.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(MAX_REQUEST_HEAD_BYTES));
            // Javalin's default connector, but with our idle timeout instead of Jetty's 30 s, and a longer accept queue.
            cfg.jetty.addConnector((server, http) -> {
                ServerConnector c = new ServerConnector(server, new HttpConnectionFactory(http));
                c.setHost(cfg.jetty.host);
                c.setPort(cfg.jetty.port);
                c.setIdleTimeout(IDLE_TIMEOUT.toMillis());
                c.setAcceptQueueSize(ACCEPT_QUEUE);
                connector = c;
                return c;
            });
            // Stopping waits (bounded) for the requests in progress, so that a node that stops, or was
            // removed, still answers what it was asked before its port closes.
            cfg.jetty.modifyServer(server -> {
                server.insertHandler(new GracefulHandler());
                // Outside the graceful one: a stop does not wait for a client to finish sending a refused body.
                server.insertHandler(new UnreadBodyDrain());
                server.setStopTimeout(STOP_TIMEOUT.toMillis());
                server.setErrorHandler(new PlainTextErrorHandler());
            });
            cfg.requestLogger.http((ctx, millis) -> metrics.httpRequest(ctx.method().name(), route(ctx),
                    ctx.statusCode(), millis / 1000.0));
            cfg.routes.get("/-/status", this::status);
            cfg.routes.get("/-/health", this::health);
            cfg.routes.get("/-/members", this::members);
            cfg.routes.post("/-/members/{id}", this::addMember);
            cfg.routes.delete("/-/members/{id}", this::removeMember);
            cfg.routes.post("/-/snapshot", this::snapshot);
            cfg.routes.get("/-/metrics", ctx -> ctx.contentType(metrics.contentType()).result(metrics.scrape()));
            cfg.routes.get("/-/keys", keys::range);
            cfg.routes.get("/-/watch", watchRequests::watch);
            faults.map(f -> new FaultInjectionApi(f, store, cluster)).ifPresent(api -> {
                cfg.routes.get(FaultInjectionApi.PATH, api::list);
                cfg.routes.put(FaultInjectionApi.PATH + "/{peer}", api::set);
                cfg.routes.delete(FaultInjectionApi.PATH, api::healAll);
                cfg.routes.put(FaultInjectionApi.REQUEST_TIMEOUT_PATH, api::shortenRequestTimeout);
                cfg.routes.delete(FaultInjectionApi.REQUEST_TIMEOUT_PATH, api::restoreRequestTimeout);
                cfg.routes.put(FaultInjectionApi.CRASH_PATH + "/{point}", api::armCrash);
                cfg.routes.get(FaultInjectionApi.SNAPSHOT_PATH, api::snapshot);
            });
            cfg.routes.get("/-/<path>", ctx -> fail(HttpStatus.NOT_FOUND, "no such cluster API path"));
            cfg.routes.get("/<key>", keys::get);
            cfg.routes.put("/<key>", keys::put);
            cfg.routes.delete("/<key>", keys::delete);
            cfg.routes.get("/", HttpApi::emptyKey);
            cfg.routes.put("/", HttpApi::emptyKey);
            cfg.routes.delete("/", HttpApi::emptyKey);
            // Javalin answers HEAD with an empty 200 wherever a GET route exists, even for an absent key.
            cfg.routes.head("/<path>", HttpApi::methodNotAllowed);
            cfg.routes.head("/", HttpApi::methodNotAllowed);
            cfg.routes.exception(Unavailable.class, (e, ctx) -> unavailable(ctx, e.getMessage()));
            cfg.routes.exception(HttpResponseException.class,
                    (e, ctx) -> plain(ctx, HttpStatus.forStatus(e.getStatus()), e.getMessage()));
            // Only reading the body throws these: the client broke its chunked encoding or closed the connection
            // early. Its fault, not a 500 (Javalin's answer), and it is rarely still listening.
            cfg.routes.exception(IOException.class,
                    (e, ctx) -> plain(ctx, HttpStatus.BAD_REQUEST, "request body cut short or malformed"));
            cfg.routes.error(HttpStatus.NOT_FOUND.getCode(), "*", ctx -> {
                if (ctx.result() == null) {
                    plain(ctx, HttpStatus.NOT_FOUND, "not found");
                }
            });
            cfg.routes.error(HttpStatus.METHOD_NOT_ALLOWED.getCode(), "*",
                    ctx -> plain(ctx, HttpStatus.METHOD_NOT_ALLOWED, "method not allowed"));
            // Javalin's answer to a body that stalled past the idle timeout, which it gives no reason.
            cfg.routes.error(HttpStatus.REQUEST_TIMEOUT.getCode(), "*", ctx -> plain(ctx, HttpStatus.REQUEST_TIMEOUT,
                    "request body not received within " + IDLE_TIMEOUT.toSeconds() + " s"));
        });
        metrics.watchOpenConnections(this::openConnections);
    }

    public HttpApi start(String host, int port) {
        app.start(host, port);
        return this;
    }

    // --------------------------------------------------------------------------------------- keys

    private static void emptyKey(Context ctx) {
        fail(HttpStatus.BAD_REQUEST, "empty key");
    }

    private static void methodNotAllowed(Context ctx) {
        fail(HttpStatus.METHOD_NOT_ALLOWED, "method not allowed");
    }

    /** The route a request matched, as declared (a bounded set of values, unlike paths); "unmatched" if none. */
    private static String route(Context ctx) {
        Endpoint endpoint = ctx.endpoints().matchedHttpEndpoint();
        return endpoint == null ? "unmatched" : endpoint.path;
    }

    // ------------------------------------------------------------------------------ cluster API

    private void status(Context ctx) {
        ClusterAdmin.Status raft = cluster.status();
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("id", raft.id());
        status.put("role", raft.role());
        status.put("term", raft.term());
        status.put("leaderId", raft.leaderId());
        status.put("commitIndex", raft.commitIndex());
        status.put("appliedIndex", store.appliedIndex());
        status.put("lastSnapshotIndex", raft.lastSnapshotIndex());
        status.put("engine", store.engine());
        // Which process answers: bin/local-cluster checks that its port is served by the node it started.
        status.put("pid", ProcessHandle.current().pid());
        ctx.json(status);
    }

    private void members(Context ctx) {
        List<Map<String, Object>> members = new ArrayList<>();
        for (ClusterAdmin.MemberInfo m : cluster.members()) {
            Map<String, Object> member = new LinkedHashMap<>();
            member.put("id", m.id());
            member.put("peerURL", m.peerUrl());
            member.put("clientURL", m.clientUrl());
            member.put("role", m.role());
            members.add(member);
        }
        ctx.json(members);
    }

    private void addMember(Context ctx) throws InterruptedException {
        switch (membership.add(ctx.pathParam("id"), ctx.body())) {
            case MembershipRequests.Done added -> plain(ctx, HttpStatus.CREATED,
                    "member " + added.id() + " added as a learner; start it with --join");
            case MembershipRequests.NotDone notDone -> notDone(ctx, notDone);
        }
    }

    private void removeMember(Context ctx) throws InterruptedException {
        switch (membership.remove(ctx.pathParam("id"))) {
            case MembershipRequests.Done done -> ctx.status(HttpStatus.NO_CONTENT);
            case MembershipRequests.NotDone notDone -> notDone(ctx, notDone);
        }
    }

    /** The status of a membership change not made: 503 when it may be tried again. */
    private static void notDone(Context ctx, MembershipRequests.NotDone notDone) {
        switch (notDone.reason()) {
            case BAD_REQUEST -> plain(ctx, HttpStatus.BAD_REQUEST, notDone.message());
            case NOT_FOUND -> plain(ctx, HttpStatus.NOT_FOUND, notDone.message());
            case CONFLICT -> plain(ctx, HttpStatus.CONFLICT, notDone.message());
            case NOT_LEADER, UNAVAILABLE -> unavailable(ctx, notDone.message());
        }
    }

    private void snapshot(Context ctx) {
        ctx.json(Map.of("index", cluster.takeSnapshot()));
    }

    private void health(Context ctx) {
        Optional<String> unhealthy = cluster.unhealthy();
        if (unhealthy.isPresent()) {
            fail(HttpStatus.SERVICE_UNAVAILABLE, unhealthy.get());
        } else if (!store.applying()) {
            fail(HttpStatus.SERVICE_UNAVAILABLE, "the store stopped applying");
        }
        plain(ctx, HttpStatus.OK, "ok");
    }

    // ---------------------------------------------------------------------------------- helpers

    private int openConnections() {
        ServerConnector c = connector;
        return c == null ? 0 : c.getConnectedEndPoints().size();
    }

    static void fail(HttpStatus status, String reason) {
        throw new HttpResponseException(status.getCode(), reason);
    }

    /** 503, with the second after which to try again. */
    private static void unavailable(Context ctx, String reason) {
        ctx.header("Retry-After", RETRY_AFTER_SECONDS);
        plain(ctx, HttpStatus.SERVICE_UNAVAILABLE, reason);
    }

    private static void plain(Context ctx, HttpStatus status, String reason) {
        ctx.status(status).contentType("text/plain").result(reason + "\n");
    }

    /** Ends the watch streams (stopping waits for the requests in progress), then stops serving. */
    @Override
    public void close() {
        watchRequests.close();
        app.stop();
    }
}
