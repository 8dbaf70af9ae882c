package io.metcd.metrics;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.TestCluster;
import org.apache.skywalking.oap.server.library.util.prometheus.metrics.Histogram;
import org.apache.skywalking.oap.server.library.util.prometheus.metrics.Metric;
import org.apache.skywalking.oap.server.library.util.prometheus.metrics.MetricFamily;
import org.apache.skywalking.oap.server.library.util.prometheus.metrics.MetricType;
import org.apache.skywalking.oap.server.library.util.prometheus.parser.TextParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code GET /-/metrics}: the Prometheus text format, read back with a real parser (Apache SkyWalking's, as the
 * Prometheus Java client ships none), on a three-node cluster where every node keeps its own registry.
 */
class MetricsTest {
    private static final String PUT_204 = "method=PUT,route=/<key>,code=204";
    private static final String GET_200 = "method=GET,route=/<key>,code=200";
    private static final String GET_404 = "method=GET,route=/<key>,code=404";

    @TempDir
    static Path dir;
    static TestCluster cluster;
    static int leaderId;
    static int followerId;
    static KvClient leader;
    static KvClient follower;

    @BeforeAll
    static void startCluster() {
        cluster = new TestCluster(dir, 3, 1000).start();
        leaderId = cluster.awaitLeader();
        followerId = cluster.aFollower();
        leader = cluster.client(leaderId);
        follower = cluster.client(followerId);
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    @Test
    void answersThePrometheusTextFormat() {
        KvClient.Response response = leader.send("GET", "-/metrics", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("Content-Type")).startsWith("text/plain").contains("version=0.0.4");
        Scrape scrape = Scrape.parse(response.body());
        assertThat(scrape.families.keySet()).allMatch(name -> name.startsWith("metcd_"))
                .contains("metcd_term", "metcd_applied_index", "metcd_commit_index", "metcd_wal_sync_duration_seconds",
                        "metcd_peer_send_queue_depth", "metcd_http_requests_total");
        assertThat(scrape.families.get("metcd_http_requests_total").getType()).isEqualTo(MetricType.COUNTER);
        assertThat(scrape.families.get("metcd_wal_sync_duration_seconds").getType()).isEqualTo(MetricType.HISTOGRAM);
        assertThat(scrape.families.get("metcd_term").getType()).isEqualTo(MetricType.GAUGE);
    }

    @Test
    void countsRequestsByRouteAndStatusCodeWithLatencies() {
        Scrape before = scrape(leader);
        for (int i = 0; i < 5; i++) {
            assertThat(leader.put("metrics/k" + i, "v" + i).status()).isEqualTo(204);
        }
        for (int i = 0; i < 3; i++) {
            assertThat(leader.get("metrics/k" + i).status()).isEqualTo(200);
        }
        assertThat(leader.get("metrics/absent").status()).isEqualTo(404);

        // A request is counted once its answer is written, so the client may see the answer a moment earlier.
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            Scrape after = scrape(leader);
            assertThat(after.value("metcd_http_requests_total", PUT_204)
                    - before.value("metcd_http_requests_total", PUT_204)).isEqualTo(5);
            assertThat(after.value("metcd_http_requests_total", GET_200)
                    - before.value("metcd_http_requests_total", GET_200)).isEqualTo(3);
            assertThat(after.value("metcd_http_requests_total", GET_404)
                    - before.value("metcd_http_requests_total", GET_404)).isEqualTo(1);
            assertThat(after.histogram("metcd_http_request_duration_seconds", PUT_204).getSampleCount()
                    - before.count("metcd_http_request_duration_seconds", PUT_204)).isEqualTo(5);
        });
        Scrape after = scrape(leader);
        Histogram puts = after.histogram("metcd_http_request_duration_seconds", PUT_204);
        assertConsistent(puts);
        assertThat(puts.getSampleSum()).isPositive();
        assertThat(after.value("metcd_http_requests_total", "method=GET,route=/-/metrics,code=200")).isPositive();
        assertThat(after.value("metcd_proposals_total") - before.value("metcd_proposals_total"))
                .isGreaterThanOrEqualTo(5);
        assertThat(after.value("metcd_commits_total") - before.value("metcd_commits_total"))
                .isGreaterThanOrEqualTo(5);

        // Every node has its own registry: the follower answered none of these.
        Scrape onFollower = scrape(follower);
        assertThat(onFollower.value("metcd_http_requests_total", PUT_204)).isZero();
        assertThat(onFollower.value("metcd_proposals_total")).isZero();
        // ... but it committed the writes too, once the leader told it they were (with its next message).
        await().atMost(Duration.ofSeconds(5)).untilAsserted(
                () -> assertThat(scrape(follower).value("metcd_commits_total")).isGreaterThanOrEqualTo(5));
    }

    @Test
    void countsRoutesAndMethodsNotPathsSoThatLabelsStayFew() {
        Scrape before = scrape(leader);
        assertThat(leader.send("FROB", "metrics/whatever", null).status()).isEqualTo(405);
        assertThat(leader.send("GET", "-/no-such-path", null).status()).isEqualTo(404);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            Scrape after = scrape(leader);
            String frob = "method=other,route=unmatched,code=405";
            String clusterApi = "method=GET,route=/-/<path>,code=404";
            assertThat(after.value("metcd_http_requests_total", frob)
                    - before.value("metcd_http_requests_total", frob)).isEqualTo(1);
            assertThat(after.value("metcd_http_requests_total", clusterApi)
                    - before.value("metcd_http_requests_total", clusterApi)).isEqualTo(1);
        });
        assertThat(scrape(leader).metrics("metcd_http_requests_total")).extracting(m -> m.getLabels().get("route"))
                .allMatch(route -> route.startsWith("/") || route.equals("unmatched"))
                .noneMatch(route -> route.contains("metrics/"));
    }

    @Test
    void reportsRaftStateAsTheStatusDoes() {
        assertThat(leader.put("metrics/raft", "x").status()).isEqualTo(204);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            Scrape scrape = scrape(follower);
            assertThat(scrape.value("metcd_applied_index")).isEqualTo(scrape.value("metcd_commit_index"));
        });
        for (int id : List.of(leaderId, followerId)) {
            Scrape scrape = scrape(cluster.client(id));
            assertThat(scrape.value("metcd_term")).isEqualTo(cluster.node(id).raft().term()).isPositive();
            assertThat(scrape.value("metcd_applied_index")).isPositive();
            assertThat(scrape.value("metcd_commit_index")).isGreaterThanOrEqualTo(scrape.value("metcd_applied_index"));
            assertThat(scrape.value("metcd_is_leader")).isEqualTo(id == leaderId ? 1 : 0);
            assertThat(scrape.value("metcd_has_leader")).isEqualTo(1);
            assertThat(scrape.value("metcd_leader_changes_total")).isGreaterThanOrEqualTo(1);
            Histogram syncs = scrape.histogram("metcd_wal_sync_duration_seconds", "");
            assertThat(syncs.getSampleCount()).isPositive();
            assertThat(syncs.getSampleSum()).isPositive();
            assertConsistent(syncs);
        }
    }

    @Test
    void reportsEachPeersSendQueueAndTheTransportCounters() {
        Scrape scrape = scrape(leader);
        Set<String> peers = scrape.metrics("metcd_peer_send_queue_depth").stream()
                .map(m -> m.getLabels().get("peer")).collect(Collectors.toSet());
        Set<String> others = IntStream.rangeClosed(1, cluster.size()).filter(id -> id != leaderId)
                .mapToObj(Integer::toString).collect(Collectors.toSet());
        assertThat(peers).isEqualTo(others);
        for (String peer : others) {
            assertThat(scrape.value("metcd_peer_send_queue_depth", "peer=" + peer)).isGreaterThanOrEqualTo(0);
        }
        for (String reason : List.of("queue_full", "unreachable", "blocked")) {
            assertThat(scrape.value("metcd_peer_dropped_messages_total", "reason=" + reason)).isGreaterThanOrEqualTo(0);
        }
        assertThat(scrape.value("metcd_peer_reconnects_total")).isGreaterThanOrEqualTo(0);
    }

    @Test
    void countsAndTimesSnapshots() {
        Scrape before = scrape(leader);
        assertThat(leader.put("metrics/snap", "x").status()).isEqualTo(204);
        assertThat(leader.send("POST", "-/snapshot", null).status()).isEqualTo(200);
        Scrape after = scrape(leader);
        assertThat(after.value("metcd_snapshots_total", "kind=taken") - before.value("metcd_snapshots_total", "kind=taken"))
                .isGreaterThanOrEqualTo(1);
        assertThat(after.value("metcd_snapshots_total", "kind=installed")).isGreaterThanOrEqualTo(0);
        Histogram durations = after.histogram("metcd_snapshot_duration_seconds", "");
        assertThat(durations.getSampleCount() - before.count("metcd_snapshot_duration_seconds", ""))
                .isGreaterThanOrEqualTo(1);
        assertConsistent(durations);
    }

    @Test
    void timesEachPassTheEngineStoresOnEveryNode() {
        Map<Integer, Long> before = new HashMap<>();
        for (int id : List.of(leaderId, followerId)) {
            before.put(id, scrape(cluster.client(id)).count("metcd_apply_store_duration_seconds", ""));
        }

        assertThat(leader.put("metrics/stored", "x").status()).isEqualTo(204);

        for (int id : List.of(leaderId, followerId)) {
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(
                    scrape(cluster.client(id)).count("metcd_apply_store_duration_seconds", ""))
                    .isGreaterThan(before.get(id)));
            assertConsistent(scrape(cluster.client(id)).histogram("metcd_apply_store_duration_seconds", ""));
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static Scrape scrape(KvClient client) {
        KvClient.Response response = client.send("GET", "-/metrics", null);
        assertThat(response.status()).isEqualTo(200);
        return Scrape.parse(response.body());
    }

    /** Cumulative buckets that never decrease and end in +Inf, which holds every observation. */
    private static void assertConsistent(Histogram histogram) {
        Map<Double, Long> buckets = new TreeMap<>(histogram.getBuckets());
        assertThat(buckets).containsKey(Double.POSITIVE_INFINITY);
        assertThat(buckets.get(Double.POSITIVE_INFINITY)).isEqualTo(histogram.getSampleCount());
        assertThat(List.copyOf(buckets.values())).isSorted();
    }

    /** One parsed exposition, by metric family name. */
    private record Scrape(Map<String, MetricFamily> families) {
        static Scrape parse(String text) {
            // The parser reads one family per call, and answers null for the end of the text and for a family
            // without samples alike: so it is called once per family that the text declares.
            long declared = text.lines().filter(l -> l.startsWith("# TYPE ")).count();
            TextParser parser = new TextParser(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
            Map<String, MetricFamily> families = new HashMap<>();
            long samples = 0;
            try {
                for (long i = 0; i < declared; i++) {
                    MetricFamily family = parser.parse(System.currentTimeMillis());
                    if (family != null) {
                        assertThat(families.put(family.getName(), family)).as("family %s twice", family.getName())
                                .isNull();
                        for (Metric m : family.getMetrics()) {
                            samples += m instanceof Histogram h ? h.getBuckets().size() + 2 : 1;
                        }
                    }
                }
                assertThat(parser.parse(System.currentTimeMillis())).as("text after the declared families").isNull();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            // The parser skips lines it cannot read: every sample line must have made it into a family.
            assertThat(samples).as("samples parsed").isEqualTo(text.lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("#")).count());
            return new Scrape(families);
        }

        List<Metric> metrics(String family) {
            MetricFamily f = families.get(family);
            return f == null ? List.of() : f.getMetrics();
        }

        /** The metric with exactly these labels ("a=1,b=2", or "" for none), or null. */
        Metric metric(String family, String labels) {
            Map<String, String> wanted = new HashMap<>();
            for (String pair : labels.isEmpty() ? new String[0] : labels.split(",")) {
                String[] kv = pair.split("=", 2);
                wanted.put(kv[0], kv[1]);
            }
            return metrics(family).stream().filter(m -> m.getLabels().equals(wanted)).findFirst().orElse(null);
        }

        /** A counter's or gauge's value; 0 when absent, as a counter that has not counted yet. */
        double value(String family, String labels) {
            Metric m = metric(family, labels);
            return m == null ? 0 : m.value();
        }

        double value(String family) {
            return value(family, "");
        }

        Histogram histogram(String family, String labels) {
            Metric m = metric(family, labels);
            assertThat(m).as("%s{%s}", family, labels).isInstanceOf(Histogram.class);
            return (Histogram) m;
        }

        long count(String family, String labels) {
            Metric m = metric(family, labels);
            return m == null ? 0 : ((Histogram) m).getSampleCount();
        }
    }
}
