package io.metcd.chaos;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fault-injection suite on every engine: short inside {@code make test}, as long as {@code make chaos}
 * asks ({@code -Dchaos.seconds}). Each run's report goes to standard output and to {@code target/chaos/}.
 */
class ChaosTest {
    private static final Duration SHORT_RUN = Duration.ofSeconds(20);
    private static final Path REPORTS = Path.of("target", "chaos");

    @TempDir
    Path dir;

    @ParameterizedTest(name = "engine {0}")
    @ValueSource(strings = {"map", "mapdb", "leveldb"})
    void everyHistoryIsLinearizableAndNothingAcknowledgedIsLostUnderKillsPausesAndPartitions(String engine)
            throws InterruptedException, IOException {
        assumeTrue(Arrays.asList(System.getProperty("chaos.engines", engine).split(",")).contains(engine),
                "-Dchaos.engines leaves this engine out");
        Files.createDirectories(REPORTS);
        ChaosReport report;
        try {
            report = new ChaosRun(dir, ChaosRun.Settings.fromSystemProperties(engine, SHORT_RUN)).run();
        } catch (RuntimeException | InterruptedException e) {
            keepNodeLogs(engine);
            throw e;
        }

        System.out.println(report);
        Files.writeString(REPORTS.resolve(engine + ".txt"), report + "\n");
        if (!report.problems().isEmpty()) {
            Files.writeString(REPORTS.resolve(engine + "-history.txt"),
                    report.history().stream().map(Op::toString).collect(Collectors.joining("\n")));
            keepNodeLogs(engine);
        }
        assertThat(report.problems()).as(report::toString).isEmpty();
    }

    /** The nodes' logs outlive the temporary directory when a run fails, for the post-mortem. */
    private void keepNodeLogs(String engine) throws IOException {
        Path logs = Files.createDirectories(REPORTS.resolve(engine + "-logs"));
        try (Stream<Path> files = Files.list(dir)) {
            for (Path log : files.filter(f -> f.getFileName().toString().endsWith(".log")).toList()) {
                Files.copy(log, logs.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
