package io.metcd.chaos;

import io.metcd.testkit.ProcessCluster;
import org.awaitility.core.ConditionTimeoutException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/**
 * One run of the fault-injection suite, as Jepsen runs etcd: a three-node cluster of real {@code bin/metcd}
 * processes, concurrent recording clients, the {@link Nemesis}; then everything is healed and checked: the
 * history is linearizable, no acknowledged write was lost, the replicas converged, no node crashed, every
 * blackholed follower caught up by snapshot, and the watch kept open on every node ({@link WatchRecorder}) saw every
 * revision once, in order, the same as the other nodes, up to what its node applied and no further.
 */
final class ChaosRun {
    /**
     * Snapshots every 300 writes, so that they are taken and installed during a run, and a blackholed follower soon
     * needs one.
     */
    static final int SNAPSHOT_COUNT = 300;
    /** The flags of every node of a run: the fault-injection API and frequent snapshots. */
    static final String[] NODE_FLAGS = {"--test-faults", "--snapshot-count", String.valueOf(SNAPSHOT_COUNT)};

    /**
     * @param network     where the nodes run and how their links are cut: their own switch on loopback, or the
     *                    kernel between network namespaces
     * @param duration    how long the clients and the nemesis run
     * @param clients     concurrent HTTP clients of reads and writes, each with one request in flight
     * @param respClients concurrent Redis-protocol clients of the same registers, each with one pipelined batch of
     *                    reads and writes in flight
     * @param keys        registers those clients share: few, so that operations on one key overlap
     * @param casClients  concurrent HTTP clients of read-then-compare-and-swap, on registers of their own
     * @param seed        drives every random choice of the clients and the nemesis (the timing still varies)
     */
    record Settings(String engine, String network, Duration duration, int clients, int respClients, int keys,
            int casClients, List<Nemesis.Fault> faults, long seed) {
        /**
         * Settings from {@code -Dchaos.seconds}, {@code -Dchaos.seed} and {@code -Dchaos.faults}, else defaults; only
         * the faults {@code possible} on this network.
         */
        static Settings fromSystemProperties(String engine, String network, Duration defaultDuration,
                Set<Nemesis.Fault> possible) {
            Duration duration = Duration.ofSeconds(Long.getLong("chaos.seconds", defaultDuration.toSeconds()));
            long seed = Long.getLong("chaos.seed", System.nanoTime());
            String faults = System.getProperty("chaos.faults", "");
            List<Nemesis.Fault> chosen = faults.isBlank() ? List.of(Nemesis.Fault.values())
                    : Arrays.stream(faults.split(",")).map(f -> Nemesis.Fault.valueOf(f.strip().toUpperCase())).toList();
            return new Settings(engine, network, duration, 6, 2, 3, 3,
                    chosen.stream().filter(possible::contains).toList(), seed);
        }
    }

    /** The registers of the compare-and-swap clients: fewer than the clients, so that some CASes are refused. */
    private static final int CAS_KEYS = 2;
    /** The final readers' client ids, after those of the workload. */
    static final int FINAL_READER = 1000;
    /** Enough for any run on this hardware, so that a run is bounded in count as well as in time. */
    private static final int MAX_OPS_PER_CLIENT_SECOND = 2000;
    private static final Pattern APPLIED = Pattern.compile("\"appliedIndex\":(\\d+)");

    private final Settings settings;

    ChaosRun(Settings settings) {
        this.settings = settings;
    }

    /** Runs the workload and the nemesis on {@code cluster}, started, whose links {@code network} cuts. */
    ChaosReport run(ProcessCluster cluster, Network network) throws InterruptedException {
        List<String> registers = IntStream.rangeClosed(1, settings.keys()).mapToObj(i -> "register" + i).toList();
        List<String> casKeys = IntStream.rangeClosed(1, CAS_KEYS).mapToObj(i -> "cas" + i).toList();
        List<String> keys = Stream.concat(registers.stream(), casKeys.stream()).toList();
        ConcurrentLinkedQueue<Op> history = new ConcurrentLinkedQueue<>();
        long start = System.nanoTime();
        long deadline = start + settings.duration().toNanos();
        long maxOps = settings.duration().toSeconds() * MAX_OPS_PER_CLIENT_SECOND;
        List<WatchRecorder> watches = IntStream.rangeClosed(1, cluster.size())
                .mapToObj(node -> new WatchRecorder(node, cluster.clientUrl(node))).toList();
        List<Thread> clients = new ArrayList<>();
        List<WorkloadClient> workload = WorkloadClient.all(settings, cluster, registers, casKeys);
        for (int c = 0; c < workload.size(); c++) {
            WorkloadClient client = workload.get(c);
            clients.add(Thread.ofVirtual().name("chaos-client-" + (c + 1)).start(() -> {
                try (client) {
                    for (long n = 0; n < maxOps && System.nanoTime() < deadline; n++) {
                        history.addAll(client.next());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        Nemesis nemesis = new Nemesis(cluster, network, settings.faults(), SNAPSHOT_COUNT, settings.seed(), start);
        try {
            nemesis.run(deadline);
        } finally {
            for (Thread client : clients) {
                client.join();
            }
        }

        List<Integer> crashed = IntStream.rangeClosed(1, cluster.size()).filter(id -> !cluster.isRunning(id))
                .boxed().toList();
        for (int id : crashed) {
            cluster.start(id);
        }
        network.heal();
        cluster.awaitLeader();
        RecordingClient finalReader = new RecordingClient(FINAL_READER, keys, cluster.size(), cluster::clientUrl,
                settings.seed());
        for (int node = 1; node <= cluster.size(); node++) {
            for (String key : keys) {
                history.add(awaitRead(finalReader, node, key));
            }
        }
        Map<Integer, String> digests = awaitConvergence(cluster, keys);
        List<Op> ops = List.copyOf(history);
        return new ChaosReport(settings, ops, nemesis.events(), LinearizabilityChecker.check(ops),
                LostWrites.of(ops), digests, crashed, checkWatches(watches, cluster, keys, ops));
    }

    /** Closes the watches, once the last writes have reached every node, and checks what they saw. */
    private static ChaosReport.Watches checkWatches(List<WatchRecorder> watches, ProcessCluster cluster,
            List<String> keys, List<Op> ops) throws InterruptedException {
        Map<Integer, Long> revisions = new TreeMap<>();
        for (int node = 1; node <= cluster.size(); node++) {
            revisions.put(node, Long.parseLong(cluster.client(node).get(keys.getFirst() + "?level=stale")
                    .header("X-Revision")));
        }
        for (WatchRecorder w : watches) {
            long revision = revisions.get(w.node);
            // What the node applied is also what its watch is to show before it is closed; the checks say if not.
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> w.lastRevision() >= revision);
            } catch (ConditionTimeoutException e) {
                // reported by the checks
            }
            w.close();
        }
        // A compare-and-swap that was applied wrote its value too.
        Set<String> written = ops.stream().filter(op -> op.kind() == Op.Kind.WRITE || op.kind() == Op.Kind.CAS)
                .map(Op::value).collect(Collectors.toSet());
        return new ChaosReport.Watches(WatchRecorder.WatchChecks.summary(watches),
                WatchRecorder.WatchChecks.problems(watches, Set.copyOf(keys), written, revisions));
    }

    /** A consistent read that the healed cluster answers, retried until it does. */
    private static Op awaitRead(RecordingClient reader, int node, String key) {
        return await().atMost(Duration.ofSeconds(60)).until(() -> reader.read(node, key),
                op -> op.outcome() == Op.Outcome.OK);
    }

    /**
     * Waits until every node has applied the same index and holds the same state, and returns each node's
     * digest of it (SHA-256 over its keys and values, read locally). The workload writes only its registers,
     * so those are the whole state. On a timeout, returns the last digests, which then differ.
     */
    private static Map<Integer, String> awaitConvergence(ProcessCluster cluster, List<String> keys) {
        Map<Integer, String>[] last = new Map[1];
        try {
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                last[0] = digests(cluster, keys);
                return last[0].values().stream().distinct().count() == 1;
            });
        } catch (ConditionTimeoutException e) {
            // Reported as a divergence below.
        }
        return Objects.requireNonNullElse(last[0], Map.of());
    }

    private static Map<Integer, String> digests(ProcessCluster cluster, List<String> keys) {
        Map<Integer, String> digests = new TreeMap<>();
        for (int node = 1; node <= cluster.size(); node++) {
            Matcher applied = APPLIED.matcher(cluster.client(node).get("-/status").body());
            if (!applied.find()) {
                throw new IllegalStateException("node " + node + " did not report its applied index");
            }
            MessageDigest sha = sha256();
            sha.update(("applied " + applied.group(1) + "\n").getBytes(StandardCharsets.UTF_8));
            for (String key : keys) {
                var value = cluster.client(node).get(key + "?level=stale");
                sha.update((key + "=" + (value.status() == 200 ? value.body() : "<absent " + value.status() + ">")
                        + "\n").getBytes(StandardCharsets.UTF_8));
            }
            digests.put(node, HexFormat.of().formatHex(sha.digest()).substring(0, 16));
        }
        return digests;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
