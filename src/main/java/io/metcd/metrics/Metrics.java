package io.metcd.metrics;

import io.microraft.report.RaftNodeReport;
import io.prometheus.metrics.core.metrics.Counter;
import io.metcd.resp.RespMetrics;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * One node's Prometheus metrics, served as text by {@code GET /-/metrics}. Each node has its own registry (tests run
 * several nodes in one JVM). What the node already keeps (indices, term, snapshot counts, transport counters) is read
 * when scraped, through the suppliers the node registers ({@code watch...}); only what nobody else counts is counted as
 * it happens, each at the cost of an uncontended add. It knows no other part of metcd: each layer reports through the
 * interface it is given ({@link RaftMetrics}, {@link HttpMetrics}, the Redis layer's {@link RespMetrics}, a
 * {@link java.util.function.LongConsumer} for the WAL's syncs).
 */
public final class Metrics implements RaftMetrics, HttpMetrics, RespMetrics {
    /** {@code text/plain; version=0.0.4; charset=utf-8}: the Prometheus text format. */
    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
    /** Methods counted by name; any other a client makes up is counted as "other", so labels stay few. */
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
            "TRACE", "CONNECT");

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    private final Counter httpRequests = Counter.builder().name("metcd_http_requests_total")
            .help("HTTP requests answered, by method, route and status code").labelNames("method", "route", "code")
            .withoutExemplars().register(registry);
    private final Histogram httpDuration = Histogram.builder().name("metcd_http_request_duration_seconds")
            .help("Time to answer an HTTP request, by method, route and status code")
            .labelNames("method", "route", "code").classicOnly().withoutExemplars().register(registry);
    private final Counter redisCommands = Counter.builder().name("metcd_redis_commands_total")
            .help("Redis commands answered, by command (lower case; unknown for any name not in the table) and result: "
                    + "ok, error (the client's), tryagain (no leader, quorum or commit in time)")
            .labelNames("command", "result").withoutExemplars().register(registry);
    private final Histogram redisDuration = Histogram.builder().name("metcd_redis_command_duration_seconds")
            .help("Time from a Redis command's arrival to its reply being written, by command")
            .labelNames("command").classicOnly().withoutExemplars().register(registry);
    private final Gauge redisConnections = Gauge.builder().name("metcd_redis_open_connections")
            .help("Redis client connections open").withoutExemplars().register(registry);
    private final Counter proposals = Counter.builder().name("metcd_proposals_total")
            .help("Writes this node handed to Raft: replicated as the leader, or forwarded to the leader")
            .withoutExemplars().register(registry);
    private final Counter commits = Counter.builder().name("metcd_commits_total")
            .help("Committed log entries handed to the store to apply, in log order").withoutExemplars()
            .register(registry);
    private final Counter leaderChanges = Counter.builder().name("metcd_leader_changes_total")
            .help("Times this node saw a new leader").withoutExemplars().register(registry);
    private final Histogram walSync = Histogram.builder().name("metcd_wal_sync_duration_seconds")
            .help("Time of one msync of the write-ahead log")
            .classicExponentialUpperBounds(0.0001, 2, 17).withoutExemplars().register(registry); // 100 us to 6.5 s
    private final Histogram snapshotDuration = Histogram.builder().name("metcd_snapshot_duration_seconds")
            .help("Time the Raft thread spends taking a snapshot; its state is written afterwards, on another thread")
            .classicExponentialUpperBounds(0.0001, 2, 15).withoutExemplars().register(registry); // 100 us to 1.6 s
    private final Histogram snapshotWrite = Histogram.builder().name("metcd_snapshot_write_duration_seconds")
            .help("Time to write a snapshot taken here to disk, from the store's view of its state, until it is durable")
            .classicExponentialUpperBounds(0.01, 2, 15).withoutExemplars().register(registry); // 10 ms to 160 s
    private final Histogram snapshotSync = Histogram.builder().name("metcd_snapshot_sync_duration_seconds")
            .help("Time of one sync of a snapshot file while it is written, every few chunks")
            .classicExponentialUpperBounds(0.0001, 2, 17).withoutExemplars().register(registry); // 100 us to 6.5 s
    private final Histogram commitWait = Histogram.builder().name("metcd_commit_wait_duration_seconds")
            .help("Time the Raft thread waited for room on a full commitC, each time it had to: the store applying "
                    + "more slowly than entries commit").classicExponentialUpperBounds(0.0001, 2, 17)
            .withoutExemplars().register(registry); // 100 us to 6.5 s
    private final Histogram applyStore = Histogram.builder().name("metcd_apply_store_duration_seconds")
            .help("Time for the engine to store one pass of the applier, readers of several keys held off meanwhile")
            .classicExponentialUpperBounds(0.0001, 2, 17).withoutExemplars().register(registry); // 100 us to 6.5 s
    private final AtomicLong raftThreadStallMax = new AtomicLong();

    private volatile Supplier<RaftNodeReport> reports;
    /** A fresh Raft report for the scrape in progress: one round trip to the Raft thread per scrape. */
    private volatile RaftNodeReport report;

    // ------------------------------------------------------------------------------- counted as it happens

    @Override
    public void httpRequest(String method, String route, int code, double seconds) {
        String known = METHODS.contains(method) ? method : "other";
        String status = Integer.toString(code);
        httpRequests.labelValues(known, route, status).inc();
        httpDuration.labelValues(known, route, status).observe(seconds);
    }

    @Override
    public void answered(String command, Result result, double seconds) {
        redisCommands.labelValues(command, result.name().toLowerCase()).inc();
        redisDuration.labelValues(command).observe(seconds);
    }

    @Override
    public void connectionOpened() {
        redisConnections.inc();
    }

    @Override
    public void connectionClosed() {
        redisConnections.dec();
    }

    @Override
    public void proposed(int writes) {
        proposals.inc(writes);
    }

    @Override
    public void committed() {
        commits.inc();
    }

    @Override
    public void leaderChanged() {
        leaderChanges.inc();
    }

    public void walSynced(long nanos) {
        walSync.observe(nanos / 1e9);
    }

    @Override
    public void snapshotTaken(long nanos) {
        snapshotDuration.observe(nanos / 1e9);
    }

    @Override
    public void commitWaited(long nanos) {
        commitWait.observe(nanos / 1e9);
    }

    public void passStored(long nanos) {
        applyStore.observe(nanos / 1e9);
    }

    @Override
    public void raftThreadStalled(long nanos) {
        raftThreadStallMax.accumulateAndGet(nanos, Math::max);
    }

    public void snapshotWritten(long nanos) {
        snapshotWrite.observe(nanos / 1e9);
    }

    public void snapshotSynced(long nanos) {
        snapshotSync.observe(nanos / 1e9);
    }

    // --------------------------------------------------------------------------------- read when scraped

    /**
     * Registers what the Raft layer shows, read when scraped; call once.
     *
     * @param reports a fresh report of the Raft node (asked once per scrape), or {@code null} before there is one
     */
    public void watchRaft(IntSupplier term, BooleanSupplier isLeader, BooleanSupplier hasLeader,
            Supplier<RaftNodeReport> reports) {
        this.reports = reports;
        gauge("metcd_term", "The current Raft term", cb -> cb.call(term.getAsInt()));
        gauge("metcd_is_leader", "1 if this node is the leader, else 0", cb -> cb.call(isLeader.getAsBoolean() ? 1 : 0));
        gauge("metcd_has_leader", "1 if this node knows a leader, else 0", cb -> cb.call(hasLeader.getAsBoolean() ? 1 : 0));
        gauge("metcd_raft_thread_stall_max_seconds", "The longest the Raft thread kept a task waiting (a probe every "
                + "10 ms measures how late it runs) or spent taking a snapshot, since the node started",
                cb -> cb.call(raftThreadStallMax.get() / 1e9));
        gauge("metcd_commit_index", "The highest log index known to be committed", cb -> {
            RaftNodeReport r = report;
            if (r != null) {
                cb.call(r.getLog().getCommitIndex());
            }
        });
        CounterWithCallback.builder().name("metcd_snapshots_total")
                .help("Snapshots since the node started, taken here or installed from the leader").labelNames("kind")
                .callback(cb -> {
                    RaftNodeReport r = report;
                    if (r != null) {
                        cb.call(r.getLog().getTakeSnapshotCount(), "taken");
                        cb.call(r.getLog().getInstallSnapshotCount(), "installed");
                    }
                }).register(registry);
    }

    /** Registers the store's applied index, read when scraped; call once. */
    public void watchStore(LongSupplier appliedIndex) {
        gauge("metcd_applied_index", "The highest log index the store has applied", cb -> cb.call(appliedIndex.getAsLong()));
    }

    /** Registers the peer transport's counters, read when scraped; call once. */
    public void watchPeers(PeerCounters transport) {
        GaugeWithCallback.builder().name("metcd_peer_send_queue_depth")
                .help("Messages waiting in the outbound queue to each peer").labelNames("peer")
                .callback(cb -> transport.queueDepths().forEach((peer, depth) -> cb.call(depth, peer.toString())))
                .register(registry);
        CounterWithCallback.builder().name("metcd_peer_reconnects_total")
                .help("Connections to peers opened again after one was lost")
                .callback(cb -> cb.call(transport.reconnects())).register(registry);
        CounterWithCallback.builder().name("metcd_peer_dropped_messages_total")
                .help("Messages to or from peers dropped: outbound queue full, peer unreachable, or lost to an injected fault")
                .labelNames("reason").callback(cb -> {
                    cb.call(transport.droppedQueueFull(), "queue_full");
                    cb.call(transport.droppedUnreachable(), "unreachable");
                    cb.call(transport.droppedByFaults(), "injected_fault");
                }).register(registry);
    }

    @Override
    public void watchOpenConnections(IntSupplier openConnections) {
        gauge("metcd_http_open_connections", "Client connections open, idle ones included",
                cb -> cb.call(openConnections.getAsInt()));
    }

    private void gauge(String name, String help, Consumer<GaugeWithCallback.Callback> callback) {
        GaugeWithCallback.builder().name(name).help(help).callback(callback).register(registry);
    }

    /** Every metric in the Prometheus text format ({@link #CONTENT_TYPE}). */
    @Override
    public synchronized byte[] scrape() {
        Supplier<RaftNodeReport> watched = reports;
        report = watched == null ? null : watched.get();
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    @Override
    public String contentType() {
        return CONTENT_TYPE;
    }
}
