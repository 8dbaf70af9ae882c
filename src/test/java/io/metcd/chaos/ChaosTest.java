package io.metcd.chaos;

import io.metcd.testkit.NetworkNamespaces;
import io.metcd.testkit.ProcessCluster;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fault-injection suite on every engine and two networks: loopback, its links cut by the nodes' own switch, and
 * three hosts in network namespaces, their links cut by the kernel. Short inside {@code make test}, as long as
 * {@code make chaos} asks ({@code -Dchaos.seconds}). Each run's report goes to standard output and to
 * {@code target/chaos/}.
 */
class ChaosTest {
    private static final Duration SHORT_RUN = Duration.ofSeconds(20);
    private static final Duration SHORT_RUN_ON_HOSTS = Duration.ofSeconds(20);
    private static final Path REPORTS = Path.of("target", "chaos");
    private static final int NODES = 3;
    /** Where every node listens on its own host, as etcd does. */
    private static final int CLIENT_PORT = 2379;
    private static final int PEER_PORT = 2380;
    private static final int REDIS_PORT = 6379;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"map", "mapdb", "leveldb"})
    void everyHistoryIsLinearizableAndNothingAcknowledgedIsLostUnderKillsPausesAndPartitions(String engine)
            throws InterruptedException, IOException {
        ChaosRun.Settings settings = settings(engine, "loopback", SHORT_RUN, SwitchNetwork.FAULTS);
        try (ProcessCluster cluster = new ProcessCluster(dir, NODES, engine, ChaosRun.NODE_FLAGS)) {
            check(settings, () -> new ChaosRun(settings).run(cluster.start(), new SwitchNetwork(cluster)));
        }
    }

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"map", "mapdb", "leveldb"})
    void everyHistoryIsLinearizableAndNothingAcknowledgedIsLostWhenTheKernelCutsTheLinksBetweenHosts(String engine)
            throws InterruptedException, IOException {
        assumeTrue(Arrays.asList(System.getProperty("chaos.namespace-engines", "map").split(",")).contains(engine),
                "make test runs the hosts in namespaces with the map engine only, make chaos with every engine");
        Optional<String> unavailable = NetworkNamespaces.unavailable();
        assumeTrue(unavailable.isEmpty(), () -> "skipped: " + unavailable.orElseThrow());
        ChaosRun.Settings settings = settings(engine, "namespaces", SHORT_RUN_ON_HOSTS, KernelNetwork.FAULTS);
        try (NetworkNamespaces hosts = NetworkNamespaces.create(NODES);
                ProcessCluster cluster = new ProcessCluster(dir, IntStream.rangeClosed(1, NODES)
                        .mapToObj(n -> new ProcessCluster.Host(hosts.address(n), CLIENT_PORT, PEER_PORT, REDIS_PORT,
                                hosts.launcher(n)))
                        .toList(), engine, ChaosRun.NODE_FLAGS)) {
            check(settings, () -> new ChaosRun(settings).run(cluster.start(), new KernelNetwork(hosts, NODES)));
        }
    }

    /**
     * Settings for a run on {@code network}, whose link faults are {@code linkFaults}; skips the run when
     * {@code -Dchaos.engines} or {@code -Dchaos.networks} leaves it out, or {@code -Dchaos.faults} leaves it none.
     */
    private static ChaosRun.Settings settings(String engine, String network, Duration shortRun,
            Set<Nemesis.Fault> linkFaults) {
        assumeTrue(Arrays.asList(System.getProperty("chaos.engines", engine).split(",")).contains(engine),
                "-Dchaos.engines leaves this engine out");
        assumeTrue(Arrays.asList(System.getProperty("chaos.networks", network).split(",")).contains(network),
                "-Dchaos.networks leaves this network out");
        Set<Nemesis.Fault> possible = EnumSet.copyOf(linkFaults);
        Arrays.stream(Nemesis.Fault.values()).filter(f -> !f.isLinkFault()).forEach(possible::add);
        possible.add(Nemesis.Fault.SNAPSHOT_BLACKHOLE); // a partition, held until the leader compacts
        ChaosRun.Settings settings = ChaosRun.Settings.fromSystemProperties(engine, network, shortRun, possible);
        assumeTrue(!settings.faults().isEmpty(), "-Dchaos.faults leaves no fault this network can make");
        return settings;
    }

    private interface Run {
        ChaosReport run() throws InterruptedException;
    }

    private void check(ChaosRun.Settings settings, Run run) throws InterruptedException, IOException {
        String name = settings.engine() + ("loopback".equals(settings.network()) ? "" : "-" + settings.network());
        Files.createDirectories(REPORTS);
        ChaosReport report;
        try {
            report = run.run();
        } catch (RuntimeException | InterruptedException e) {
            keepNodeLogs(name);
            throw e;
        }

        System.out.println(report);
        Files.writeString(REPORTS.resolve(name + ".txt"), report + "\n");
        if (!report.problems().isEmpty()) {
            Files.writeString(REPORTS.resolve(name + "-history.txt"),
                    report.history().stream().map(Op::toString).collect(Collectors.joining("\n")));
            keepNodeLogs(name);
        }
        assertThat(report.problems()).as(report::toString).isEmpty();
    }

    /** The nodes' logs outlive the temporary directory when a run fails, for the post-mortem. */
    private void keepNodeLogs(String name) throws IOException {
        Path logs = Files.createDirectories(REPORTS.resolve(name + "-logs"));
        try (Stream<Path> files = Files.list(dir)) {
            for (Path log : files.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
                Files.copy(log, logs.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
