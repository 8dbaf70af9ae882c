package io.metcd.metrics;

import io.metcd.kv.AbstractKVStore;
import io.metcd.raft.RaftLoop;
import io.metcd.transport.PeerTransport;
import io.microraft.RaftRole;
import io.microraft.report.RaftNodeReport;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * One node's Prometheus metrics, served as text by {@code GET /-/metrics}. Each node has its own registry (tests run
 * several nodes in one JVM). What the node already keeps (indices, term, snapshot counts, transport counters) is read
 * when scraped; only what nobody else counts is counted as it happens, each at the cost of an uncontended add.
 */
public final class Metrics {
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
            .help("Time to take a snapshot of the store: waiting for the applier to reach it, then copying the state")
            .classicExponentialUpperBounds(0.001, 2, 15).withoutExemplars().register(registry); // 1 ms to 16 s

    private volatile RaftLoop raft;
    /** A fresh Raft report for the scrape in progress: one round trip to the Raft thread per scrape. */
    private volatile RaftNodeReport report;

    // ------------------------------------------------------------------------------- counted as it happens

    /** An HTTP request was answered; {@code route} is the matched route pattern, never the path itself. */
    public void httpRequest(String method, String route, int code, double seconds) {
        String known = METHODS.contains(method) ? method : "other";
        String status = Integer.toString(code);
        httpRequests.labelValues(known, route, status).inc();
        httpDuration.labelValues(known, route, status).observe(seconds);
    }

    public void proposed(int writes) {
        proposals.inc(writes);
    }

    public void committed() {
        commits.inc();
    }

    public void leaderChanged() {
        leaderChanges.inc();
    }

    public void walSynced(long nanos) {
        walSync.observe(nanos / 1e9);
    }

    public void snapshotTaken(long nanos) {
        snapshotDuration.observe(nanos / 1e9);
    }

    // --------------------------------------------------------------------------------- read when scraped

    /** Registers the metrics read at scrape time from what the node already keeps; call once, when both exist. */
    public void watch(RaftLoop raft, AbstractKVStore store) {
        this.raft = raft;
        gauge("metcd_term", "The current Raft term", cb -> cb.call(raft.term()));
        gauge("metcd_is_leader", "1 if this node is the leader, else 0",
                cb -> cb.call(raft.role() == RaftRole.LEADER ? 1 : 0));
        gauge("metcd_has_leader", "1 if this node knows a leader, else 0", cb -> cb.call(raft.leader() != null ? 1 : 0));
        gauge("metcd_commit_index", "The highest log index known to be committed", cb -> {
            RaftNodeReport r = report;
            if (r != null) {
                cb.call(r.getLog().getCommitIndex());
            }
        });
        gauge("metcd_applied_index", "The highest log index the store has applied", cb -> cb.call(store.appliedIndex()));
        CounterWithCallback.builder().name("metcd_snapshots_total")
                .help("Snapshots since the node started, taken here or installed from the leader").labelNames("kind")
                .callback(cb -> {
                    RaftNodeReport r = report;
                    if (r != null) {
                        cb.call(r.getLog().getTakeSnapshotCount(), "taken");
                        cb.call(r.getLog().getInstallSnapshotCount(), "installed");
                    }
                }).register(registry);

        PeerTransport transport = raft.transport();
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

    /** Registers the gauge of open client connections, which the HTTP API counts when scraped; call once. */
    public void watchHttp(IntSupplier openConnections) {
        gauge("metcd_http_open_connections", "Client connections open, idle ones included",
                cb -> cb.call(openConnections.getAsInt()));
    }

    private void gauge(String name, String help, Consumer<GaugeWithCallback.Callback> callback) {
        GaugeWithCallback.builder().name(name).help(help).callback(callback).register(registry);
    }

    /** Every metric in the Prometheus text format ({@link #CONTENT_TYPE}). */
    public synchronized byte[] scrape() {
        RaftLoop watched = raft;
        report = watched == null ? null : watched.report();
        ByteArrayOutputStream out = new ByteArrayOutputStream(8192);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
