package io.metcd.http;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.HttpStatus;
import io.javalin.router.Endpoint;
import io.metcd.kv.AbstractKVStore;
import io.metcd.metrics.HttpMetrics;
import io.metcd.model.Member;
import io.metcd.model.ProposalRejectedException;
import io.metcd.raft.MembershipException;
import io.metcd.raft.RaftLoop;
import io.microraft.RaftNodeStatus;
import io.microraft.report.RaftNodeReport;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.GracefulHandler;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The client API (raftexample's httpapi.go): keys under {@code /}, the cluster API under {@code /-/}.
 * Every node answers every request; what needs the leader goes to it through the Raft loop.
 */
public final class HttpApi implements AutoCloseable {
    public static final int MAX_KEY_BYTES = 4096;
    public static final int MAX_VALUE_BYTES = 1 << 20;
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
    /** How long a request may wait for a leader, a commit or a read index before it gets a 503. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration RETRY_BACKOFF = Duration.ofMillis(50);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final String RETRY_AFTER_SECONDS = "1";
    private static final HttpClient PROXY = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final RaftLoop raft;
    private final AbstractKVStore store;
    private final HttpMetrics metrics;
    private final Javalin app;
    private final RequestTimeouts timeouts;
    /** The one connector, made when the server starts. */
    private volatile ServerConnector connector;
    /**
     * A restarted node rebuilds its state from the WAL only as the leader tells it what is committed; until
     * it has caught up with the leader once, even a stale read could see a state older than before the restart.
     */
    private volatile boolean caughtUp;

    /**
     * @param restarted      whether the node came back from existing data, so stale reads must wait for a catch-up
     * @param faultInjection whether to serve {@link FaultInjectionApi}'s admin requests ({@code --test-faults})
     */
    public HttpApi(RaftLoop raft, AbstractKVStore store, boolean restarted, boolean faultInjection, HttpMetrics metrics) {
        this.raft = raft;
        this.store = store;
        this.metrics = metrics;
        this.caughtUp = !restarted;
        this.timeouts = new RequestTimeouts("request-timeouts-" + raft.local().id());
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
            if (faultInjection) {
                FaultInjectionApi faults = new FaultInjectionApi(raft.transport().faults());
                cfg.routes.get(FaultInjectionApi.PATH, faults::list);
                cfg.routes.put(FaultInjectionApi.PATH + "/{peer}", faults::set);
                cfg.routes.delete(FaultInjectionApi.PATH, faults::healAll);
            }
            cfg.routes.get("/-/<path>", ctx -> fail(HttpStatus.NOT_FOUND, "no such cluster API path"));
            cfg.routes.get("/<key>", this::get);
            cfg.routes.put("/<key>", this::put);
            cfg.routes.delete("/<key>", this::delete);
            cfg.routes.get("/", HttpApi::emptyKey);
            cfg.routes.put("/", HttpApi::emptyKey);
            cfg.routes.delete("/", HttpApi::emptyKey);
            // Javalin answers HEAD with an empty 200 wherever a GET route exists, even for an absent key.
            cfg.routes.head("/<path>", HttpApi::methodNotAllowed);
            cfg.routes.head("/", HttpApi::methodNotAllowed);
            cfg.routes.exception(Unavailable.class, (e, ctx) -> {
                ctx.header("Retry-After", RETRY_AFTER_SECONDS);
                plain(ctx, HttpStatus.SERVICE_UNAVAILABLE, e.getMessage());
            });
            cfg.routes.exception(MembershipException.class, (e, ctx) -> {
                HttpStatus status = switch (e.reason()) {
                    case BAD_REQUEST -> HttpStatus.BAD_REQUEST;
                    case NOT_FOUND -> HttpStatus.NOT_FOUND;
                    case CONFLICT -> HttpStatus.CONFLICT;
                    case NOT_LEADER, UNAVAILABLE -> HttpStatus.SERVICE_UNAVAILABLE;
                };
                if (status == HttpStatus.SERVICE_UNAVAILABLE) {
                    ctx.header("Retry-After", RETRY_AFTER_SECONDS);
                }
                plain(ctx, status, e.getMessage());
            });
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

    private void put(Context ctx) throws InterruptedException, IOException {
        String key = key(ctx);
        awaitApplied(key, value(ctx));
        ctx.status(HttpStatus.NO_CONTENT);
    }

    private void delete(Context ctx) throws InterruptedException {
        awaitApplied(key(ctx), null);
        ctx.status(HttpStatus.NO_CONTENT);
    }

    /** Proposes until the write is applied here, retrying only writes that certainly did not commit. */
    private void awaitApplied(String key, byte[] value) throws InterruptedException {
        long deadline = System.nanoTime() + REQUEST_TIMEOUT.toNanos();
        while (true) {
            awaitLeader(deadline);
            try {
                await(store.propose(key, value), deadline);
                return;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ProposalRejectedException rejected) {
                    backOff(deadline, rejected.getMessage());
                } else {
                    throw new Unavailable("write outcome unknown: " + e.getCause().getMessage());
                }
            } catch (TimeoutException e) {
                throw new Unavailable("write not committed in time; it may still be applied");
            }
        }
    }

    private void get(Context ctx) throws InterruptedException {
        String key = key(ctx);
        String level = ctx.queryParam("level");
        if (level == null) {
            level = "default";
        }
        switch (level) {
            case "stale" -> {
                if (!caughtUp) {
                    awaitReadIndex(false);
                    caughtUp = true;
                }
            }
            case "default" -> awaitReadIndex(false);
            case "consistent" -> awaitReadIndex(true);
            default -> fail(HttpStatus.BAD_REQUEST, "level must be stale, default or consistent");
        }
        byte[] value = store.lookup(key);
        if (value == null) {
            fail(HttpStatus.NOT_FOUND, "key not found");
        }
        ctx.contentType("application/octet-stream").result(value);
    }

    /** Waits until this node has applied everything the leader had committed when the read arrived. */
    private void awaitReadIndex(boolean linearizable) throws InterruptedException {
        long deadline = System.nanoTime() + REQUEST_TIMEOUT.toNanos();
        while (true) {
            awaitLeader(deadline);
            try {
                long index = await(raft.readIndex(linearizable), deadline);
                try {
                    await(store.whenApplied(index), deadline);
                } catch (TimeoutException e) {
                    throw new Unavailable("this node is behind the leader; try again");
                }
                return;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ProposalRejectedException rejected) {
                    backOff(deadline, rejected.getMessage());
                } else {
                    throw new Unavailable("leader did not confirm the read in time");
                }
            } catch (TimeoutException e) {
                throw new Unavailable("leader did not confirm the read in time");
            }
        }
    }

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

    private static String key(Context ctx) {
        String key = ctx.pathParam("key");
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes == 0) {
            fail(HttpStatus.BAD_REQUEST, "empty key");
        } else if (key.startsWith("-/")) {
            fail(HttpStatus.NOT_FOUND, "no such cluster API path (paths under /-/ are not keys)");
        } else if (bytes > MAX_KEY_BYTES) {
            fail(HttpStatus.CONTENT_TOO_LARGE, "key longer than " + MAX_KEY_BYTES + " bytes");
        }
        return key;
    }

    /**
     * The body, refused on its declared length before a byte of it is read, so that a client is not left sending a
     * value that can only be refused; a chunked body is refused by Javalin once it passes {@code maxRequestSize}.
     */
    private static byte[] value(Context ctx) throws IOException {
        long length = ctx.req().getContentLengthLong();
        if (length > MAX_VALUE_BYTES) {
            fail(HttpStatus.CONTENT_TOO_LARGE, "value longer than " + MAX_VALUE_BYTES + " bytes");
        } else if (length < 0) {
            return ctx.bodyAsBytes();
        }
        // Read at its declared length in one array: Javalin's reader copies every body through an 8 KiB buffer.
        byte[] value = ctx.req().getInputStream().readNBytes((int) length);
        if (value.length < length) {
            throw new IOException("body ended after " + value.length + " of " + length + " bytes");
        }
        return value;
    }

    // ------------------------------------------------------------------------------ cluster API

    private void status(Context ctx) {
        RaftNodeReport report = raft.report();
        Member leader = raft.leader();
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("id", raft.local().id());
        status.put("role", raft.role().name().toLowerCase());
        status.put("term", raft.term());
        status.put("leaderId", leader == null ? null : leader.id());
        status.put("commitIndex", report == null ? 0 : report.getLog().getCommitIndex());
        status.put("appliedIndex", store.appliedIndex());
        status.put("lastSnapshotIndex", raft.lastSnapshotIndex());
        status.put("engine", store.engine());
        // Which process answers: bin/local-cluster checks that its port is served by the node it started.
        status.put("pid", ProcessHandle.current().pid());
        ctx.json(status);
    }

    private void members(Context ctx) {
        List<Map<String, Object>> members = new ArrayList<>();
        for (RaftLoop.MemberInfo m : raft.members()) {
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
        int id = memberId(ctx);
        Member member;
        try {
            member = Member.parse(id, ctx.body());
        } catch (IllegalArgumentException e) {
            throw new MembershipException(MembershipException.Reason.BAD_REQUEST, e.getMessage());
        }
        if (!isLeader()) {
            proxyToLeader(ctx);
            return;
        }
        awaitChange(raft.addMember(member));
        plain(ctx, HttpStatus.CREATED, "member " + id + " added as a learner; start it with --join");
    }

    private void removeMember(Context ctx) throws InterruptedException {
        int id = memberId(ctx);
        if (isLeader() && id == raft.local().id()) {
            // The leader steps down first, so that its removal costs no election timeout; the new leader
            // then removes it.
            awaitChange(raft.transferLeadership().thenApply(v -> 0L));
            awaitLeaderOtherThanThis();
        }
        if (!isLeader()) {
            proxyToLeader(ctx);
            return;
        }
        awaitChange(raft.removeMember(id));
        ctx.status(HttpStatus.NO_CONTENT);
    }

    private void snapshot(Context ctx) {
        long index = raft.takeSnapshot().orTimeout(REQUEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(e -> {
                    throw new Unavailable("snapshot not taken in time");
                }).join();
        ctx.json(Map.of("index", index));
    }

    private static int memberId(Context ctx) {
        try {
            int id = Integer.parseInt(ctx.pathParam("id"));
            if (id > 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // falls through to the one message for every bad id
        }
        throw new MembershipException(MembershipException.Reason.BAD_REQUEST,
                "member id must be a positive integer, not '" + ctx.pathParam("id") + "'");
    }

    private boolean isLeader() {
        return raft.local().equals(raft.leader());
    }

    private static void awaitChange(CompletableFuture<Long> change) {
        try {
            change.orTimeout(REQUEST_TIMEOUT.toMillis() * 3, TimeUnit.MILLISECONDS).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof MembershipException m) {
                throw m;
            }
            throw new Unavailable("membership change not committed in time: " + e.getCause().getMessage());
        }
    }

    private void awaitLeaderOtherThanThis() throws InterruptedException {
        long deadline = System.nanoTime() + REQUEST_TIMEOUT.toNanos();
        while (raft.leader() == null || isLeader()) {
            backOff(deadline, "no new leader after the hand-over");
        }
    }

    /** Cluster changes happen on the leader: a follower passes the request on and relays the answer. */
    private void proxyToLeader(Context ctx) throws InterruptedException {
        Member leader = raft.awaitLeader(REQUEST_TIMEOUT);
        String base = leader == null ? null : raft.clientUrl(leader.id()).orElse(null);
        if (base == null) {
            throw new Unavailable("no leader whose client URL is known");
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + ctx.path())).timeout(REQUEST_TIMEOUT.multipliedBy(4))
                .method(ctx.method().name(), HttpRequest.BodyPublishers.ofByteArray(ctx.bodyAsBytes())).build();
        try {
            HttpResponse<byte[]> answer = PROXY.send(request, HttpResponse.BodyHandlers.ofByteArray());
            ctx.status(answer.statusCode()).result(answer.body());
            answer.headers().firstValue("Content-Type").ifPresent(ctx::contentType);
            answer.headers().firstValue("Retry-After").ifPresent(v -> ctx.header("Retry-After", v));
        } catch (IOException e) {
            throw new Unavailable("leader " + leader.id() + " did not answer: " + e.getMessage());
        }
    }

    private void health(Context ctx) {
        if (raft.leader() == null) {
            fail(HttpStatus.SERVICE_UNAVAILABLE, "no leader");
        } else if (raft.nodeStatus() != RaftNodeStatus.ACTIVE || !raft.applierAlive()) {
            fail(HttpStatus.SERVICE_UNAVAILABLE, "node is " + raft.nodeStatus().name().toLowerCase());
        }
        plain(ctx, HttpStatus.OK, "ok");
    }

    // ---------------------------------------------------------------------------------- helpers

    /**
     * Blocks the request's virtual thread until {@code result} completes, which {@link #timeouts} makes it do with a
     * {@link TimeoutException} at the deadline; failing it also makes whoever keeps it let go of it.
     */
    private <T> T await(CompletableFuture<T> result, long deadline)
            throws InterruptedException, ExecutionException, TimeoutException {
        timeouts.failAt(result, deadline);
        try {
            return result.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TimeoutException timeout) {
                throw timeout;
            }
            throw e;
        }
    }

    private void awaitLeader(long deadline) throws InterruptedException {
        if (raft.awaitLeader(Duration.ofNanos(remaining(deadline))) == null) {
            throw new Unavailable("no leader");
        }
    }

    private static void backOff(long deadline, String reason) throws InterruptedException {
        if (remaining(deadline) <= RETRY_BACKOFF.toNanos()) {
            throw new Unavailable(reason);
        }
        Thread.sleep(RETRY_BACKOFF);
    }

    private int openConnections() {
        ServerConnector c = connector;
        return c == null ? 0 : c.getConnectedEndPoints().size();
    }

    private static long remaining(long deadline) {
        return Math.max(0, deadline - System.nanoTime());
    }

    private static void fail(HttpStatus status, String reason) {
        throw new HttpResponseException(status.getCode(), reason);
    }

    private static void plain(Context ctx, HttpStatus status, String reason) {
        ctx.status(status).contentType("text/plain").result(reason + "\n");
    }

    /** No leader, no quorum or no commit in time: a 503 with Retry-After. */
    static final class Unavailable extends RuntimeException {
        Unavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    @Override
    public void close() {
        app.stop();
        timeouts.close();
    }
}
