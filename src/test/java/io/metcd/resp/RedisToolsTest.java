package io.metcd.resp;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

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
 * Redis's own command-line tools against the server: redis-cli as a user types commands, redis-benchmark's
 * handshake and a short run. Skipped, saying why,
 * where the tools are not installed (Debian's redis-tools package has both; .ci/run installs it).
 */
class RedisToolsTest {
    private static final long TIMEOUT_SECONDS = 60;
    @RegisterExtension
    final RespFixture fixture = new RespFixture();

    @Test
    void redisCliRunsTheCommandsOfTheReadme() throws Exception {
        requireTool("redis-cli");
        assertThat(cli("SET", "hello", "world")).isEqualTo("OK\n");
        assertThat(cli("GET", "hello")).isEqualTo("world\n");
        assertThat(cli("INCR", "visits")).isEqualTo("1\n");
        assertThat(cli("JOIN", "4", "http://127.0.0.1:13382")).isEqualTo("OK\n");
        assertThat(cli("GET").strip()).isEqualTo("ERR wrong number of arguments for 'get' command");
        assertThat(cli("INFO", "replication")).contains("role:leader");
        assertThat(cli("--scan", "--pattern", "h*")).isEqualTo("hello\n");
        assertThat(cli("-3", "MGET", "hello", "absent")).isEqualTo("world\n\n");
    }

    @Test
    void redisCliFindsItsHelpInCommandDocs() throws Exception {
        requireTool("redis-cli");
        // what an interactive redis-cli asks for as it starts, for its hints and its help command
        assertThat(cli("COMMAND", "DOCS", "set")).startsWith("set\nsummary\n").contains("\nsince\n", "\ngroup\nstring\n");
    }

    @Test
    void redisBenchmarkCompletesAShortRun() throws Exception {
        requireTool("redis-benchmark");
        String report = run(List.of("redis-benchmark", "-h", "127.0.0.1", "-p", Integer.toString(fixture.server.port()),
                "-t", "set,get,incr,mset", "-n", "2000", "-c", "10", "-P", "16", "-r", "1000", "-q"), "");
        for (String test : List.of("SET", "GET", "INCR", "MSET \\(10 keys\\)")) {
            Matcher rate = Pattern.compile(test + ": ([0-9.]+) requests per second").matcher(report);
            assertThat(rate.find()).as("%s in:%n%s", test, report).isTrue();
            assertThat(Double.parseDouble(rate.group(1))).isPositive();
        }
        assertThat(fixture.metrics.count("set", RespMetrics.Result.ERROR)).isZero();
    }

    private String cli(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("redis-cli", "-p", Integer.toString(fixture.server.port())));
        command.addAll(List.of(args));
        return run(command, "");
    }

    /** Runs {@code command} with {@code input} on its standard input; its output and errors together. */
    private static String run(List<String> command, String input) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
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
