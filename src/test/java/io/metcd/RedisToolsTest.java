package io.metcd;

import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Redis's own command-line tools against a real three-node cluster: redis-cli as a user types commands, on one node
 * and then another, and a short redis-benchmark run. Skipped, saying why, where the tools are not installed (Debian's
 * redis-tools package has both; .ci/run installs it).
 */
class RedisToolsTest {
    private static final long TIMEOUT_SECONDS = 60;
    @TempDir
    static Path dir;
    static TestCluster cluster;

    @BeforeAll
    static void start() {
        cluster = new TestCluster(dir, 3, 100_000).withRedis().start();
    }

    @AfterAll
    static void stop() {
        cluster.close();
    }

    @Test
    void redisCliRunsTheCommandsOfTheReadmeOnAnyNode() throws Exception {
        requireTool("redis-cli");
        assertThat(cli(2, "SET", "hello", "world")).isEqualTo("OK\n");
        assertThat(cli(3, "GET", "hello")).isEqualTo("world\n");
        assertThat(cli(1, "INCR", "visits")).isEqualTo("1\n");
        assertThat(cli(3, "SET", "hello", "again", "NX")).isEqualTo("\n");
        assertThat(cli(1, "SET", "session", "alive", "EX", "100")).isEqualTo("OK\n");
        assertThat(cli(2, "TTL", "session")).isEqualTo("100\n");
        assertThat(cli(1, "GET").strip()).isEqualTo("ERR wrong number of arguments for 'get' command");
        assertThat(cli(2, "INFO", "replication")).contains("role:", "members:3");
        assertThat(cli(3, "--scan", "--pattern", "h*")).isEqualTo("hello\n");
        assertThat(cli(1, "-3", "MGET", "hello", "absent")).isEqualTo("world\n\n");
        assertThat(cli(2, "SNAPSHOT")).matches("[0-9]+\n");
    }

    @Test
    void redisCliAddsAndRemovesAMemberThroughAnyNode() throws Exception {
        requireTool("redis-cli");
        String peerUrl = cluster.declareMember();
        assertThat(cli(2, "JOIN", "4", peerUrl)).isEqualTo("OK\n");
        assertThat(cli(3, "INFO", "replication")).contains("members:4");
        assertThat(cli(1, "JOIN", "4", peerUrl).strip()).startsWith("ERR");
        assertThat(cli(3, "LEAVE", "4")).isEqualTo("OK\n");
        assertThat(cli(1, "LEAVE", "9").strip()).startsWith("ERR");
    }

    @Test
    void redisBenchmarkCompletesAShortRun() throws Exception {
        requireTool("redis-benchmark");
        String report = run(List.of("redis-benchmark", "-h", "127.0.0.1", "-p", Integer.toString(cluster.redisPort(1)),
                "-t", "set,get,incr,mset", "-n", "2000", "-c", "10", "-P", "16", "-r", "1000", "-q"));
        for (String test : List.of("SET", "GET", "INCR", "MSET \\(10 keys\\)")) {
            Matcher rate = Pattern.compile(test + ": ([0-9.]+) requests per second").matcher(report);
            assertThat(rate.find()).as("%s in:%n%s", test, report).isTrue();
            assertThat(Double.parseDouble(rate.group(1))).isPositive();
        }
        String metrics = cluster.client(1).get("-/metrics").body();
        assertThat(metrics).contains("metcd_redis_commands_total{command=\"set\",result=\"ok\"}");
        for (String command : List.of("set", "incr", "mset")) {
            assertThat(metrics).doesNotContain("{command=\"" + command + "\",result=\"error\"}",
                    "{command=\"" + command + "\",result=\"tryagain\"}");
        }
    }

    private static String cli(int node, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("redis-cli", "-p", Integer.toString(cluster.redisPort(node))));
        command.addAll(List.of(args));
        return run(command);
    }

    /** Runs {@code command}; its output and errors together. */
    private static String run(List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(command + " did not end in " + TIMEOUT_SECONDS + " s; it wrote: " + output);
        }
        return output;
    }

    private static void requireTool(String name) {
        boolean installed = List.of("/usr/bin", "/usr/local/bin", "/bin").stream()
                .anyMatch(dir -> Files.isExecutable(Path.of(dir, name)));
        assumeTrue(installed, name + " is not installed (Debian: apt-get install redis-tools)");
    }
}
