package io.metcd;

import io.metcd.testkit.Ports;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bin/local-cluster}, which {@code make cluster} runs, on ports and a data directory of its own (through the
 * environment, as a developer's cluster may be running): when {@code start} returns, every node takes a write and a
 * read at once, after a fresh start and after a restart; a start on ports another cluster holds fails, saying so;
 * and start-node waits for a node through the moments its command line does not name it.
 */
class LocalClusterTest {
    private static final Path SCRIPT = Path.of("bin", "local-cluster").toAbsolutePath();
    private static final int NODES = 3;
    private static final List<String> ENGINES = List.of("map", "mapdb", "leveldb");
    /** Fresh starts, each followed by a restart; {@code make chaos} asks for more with -Dlocal-cluster.rounds. */
    private static final int ROUNDS = Integer.getInteger("local-cluster.rounds", 2);
    /** Written before a restart, so that the nodes have a log to replay before they serve. */
    private static final int KEYS_BEFORE_RESTART = 300;
    private static final Pattern PID = Pattern.compile("\"pid\":(\\d+)");
    /**
     * A node's stand-in for start-node: for its first second its process shows a command line that does not name the
     * node, as the kernel shows an empty or unreadable one in the middle of an exec (sh, bin/metcd, java; in 6 of 40
     * starts here for longer than the 0.1 s the script read it again), then it answers /-/status with its pid on its
     * client port: the JDK's jwebserver serving a file written before the execs, which keep the pid.
     */
    private static final String NODE_SLOW_TO_SHOW_ITS_NAME = """
            #!/usr/bin/env bash
            set -euo pipefail
            while (($#)); do
              case $1 in --id) id=$2 ;; --port) port=$2 ;; --data-dir) data=$2 ;; esac
              shift
            done
            mkdir -p "$data/www/-"
            echo "{\\"pid\\":$$,\\"leaderId\\":1}" >"$data/www/-/status"
            # Out of the command line until the last exec, which takes it as its name.
            export NODE_NAME="metcd --id $id "
            exec bash -c 'sleep 1; exec -a "$NODE_NAME" "$0" -b 127.0.0.1 -p "$1" -d "$2"' \\
              "$JWEBSERVER" "$port" "$data/www"
            """;

    @TempDir
    Path dir;
    private final int clientPortBase = Ports.freeBlock(NODES + 1);
    private final int peerPortBase = Ports.freeBlock(NODES + 1);
    private final int redisPortBase = Ports.freeBlock(NODES + 1);
    private final List<Path> dataDirs = new ArrayList<>();

    @AfterEach
    void stopEveryNodeStarted() throws Exception {
        for (Path data : dataDirs) {
            run(data, "clean");
        }
    }

    @Test
    void everyNodeTakesAWriteAndAConsistentReadAsSoonAsStartReturnsAfterFreshStartsAndRestarts() throws Exception {
        List<String> failures = new ArrayList<>();
        for (int round = 1; round <= ROUNDS; round++) {
            String engine = ENGINES.get((round - 1) % ENGINES.size());
            Path data = dataDir("round" + round);
            Result started = run(data, "start", "ENGINE", engine);
            assertThat(started.status()).as(started.output()).isZero();
            failures.addAll(writeAndReadOnEveryNode("round " + round + " fresh " + engine, "fresh" + round));
            failures.addAll(fill("round " + round + " fresh " + engine, "filler" + round + "-"));

            assertThat(run(data, "stop").status()).isZero();
            Result restarted = run(data, "start", "ENGINE", engine);
            assertThat(restarted.status()).as(restarted.output()).isZero();
            failures.addAll(writeAndReadOnEveryNode("round " + round + " restart " + engine, "restart" + round));
            failures.addAll(readOnEveryNode("round " + round + " restart " + engine,
                    Map.of("filler" + round + "-" + (KEYS_BEFORE_RESTART - 1), "v" + (KEYS_BEFORE_RESTART - 1))));
            assertThat(run(data, "clean").status()).isZero();
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void startFailsNamingTheTakenPortsWhenAnotherClusterHoldsThemAndLeavesThatClusterServing() throws Exception {
        Path first = dataDir("first");
        Result up = run(first, "start");
        assertThat(up.status()).as(up.output()).isZero();
        List<Long> firstPids = IntStream.rangeClosed(1, NODES).mapToObj(this::pidAnswering).toList();

        Result second = run(dataDir("second"), "start");

        assertThat(second.status()).as(second.output()).isNotZero();
        assertThat(second.output()).doesNotContain("cluster up")
                .contains("port " + (clientPortBase + 1) + " (node 1's client port) is taken",
                        "port " + (peerPortBase + 1) + " (node 1's peer port) is taken", "held by pid " + firstPids.get(0));
        assertThat(IntStream.rangeClosed(1, NODES).mapToObj(this::pidAnswering).toList()).isEqualTo(firstPids);
        assertThat(writeAndReadOnEveryNode("the first cluster", "still")).isEmpty();
    }

    @Test
    void startFailsNamingAPortThatAnotherProgramHoldsAndStartsNoNode() throws Exception {
        Path data = dataDir("taken");
        try (ServerSocket taken = new ServerSocket(peerPortBase + 2, 50, InetAddress.getLoopbackAddress())) {
            Result start = run(data, "start");
            assertThat(start.status()).as(start.output()).isNotZero();
            assertThat(start.output()).contains("port " + (peerPortBase + 2) + " (node 2's peer port) is taken");
        }
        for (int node = 1; node <= NODES; node++) {
            assertThat(data.resolve("node" + node + ".pid")).doesNotExist();
        }
    }

    @Test
    void startNodeWaitsForANodeWhoseCommandLineDoesNotNameItForAMomentThenReportsItServingAndItsLeader() throws Exception {
        Path script = copyOfScriptWithNode(NODE_SLOW_TO_SHOW_ITS_NAME);
        Path data = dataDir("slow-name");
        Result started = run(script, data, List.of("start-node", "1"),
                "JWEBSERVER", Path.of(System.getProperty("java.home"), "bin", "jwebserver").toString());
        long pid = pidIn(Files.readString(data.resolve("node1/www/-/status")));
        try {
            assertThat(started.status()).as(started.output()).isZero();
            assertThat(started.output()).contains("node 1 started: pid " + pid + ", http://127.0.0.1:" + (clientPortBase + 1)
                    + ", leader node 1, log ");
            assertThat(pidAnswering(1)).isEqualTo(pid);
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly); // also when start-node left it behind
        }
    }

    /** bin/local-cluster and its config in a directory of this test's, beside a bin/metcd with the text given. */
    private Path copyOfScriptWithNode(String node) throws IOException {
        Path root = dir.resolve("repo");
        Files.createDirectories(root.resolve("bin"));
        Files.createDirectories(root.resolve("config"));
        Path script = Files.copy(SCRIPT, root.resolve("bin/local-cluster"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.copy(SCRIPT.resolveSibling("../config/cluster.env").normalize(), root.resolve("config/cluster.env"));
        Path metcd = Files.writeString(root.resolve("bin/metcd"), node);
        assertThat(metcd.toFile().setExecutable(true)).isTrue();
        return script;
    }

    /** A PUT to every node, then a consistent GET on every node of every key written; the failures, described. */
    private List<String> writeAndReadOnEveryNode(String when, String prefix) {
        List<String> failures = new ArrayList<>();
        Map<String, String> written = new LinkedHashMap<>();
        // A new client for every node: no connection of an earlier cluster is reused.
        for (int node = 1; node <= NODES; node++) {
            String key = prefix + "-via-" + node;
            try (HttpClient http = client()) {
                HttpResponse<String> put = http.send(request(node, key).PUT(HttpRequest.BodyPublishers.ofString(key))
                        .build(), HttpResponse.BodyHandlers.ofString());
                if (put.statusCode() == 204) {
                    written.put(key, key);
                } else {
                    failures.add(when + ": PUT " + key + " on node " + node + ": " + put.statusCode() + " " + put.body());
                }
            } catch (IOException | InterruptedException e) {
                failures.add(when + ": PUT " + key + " on node " + node + ": no answer (" + e + ")");
            }
        }
        failures.addAll(readOnEveryNode(when, written));
        return failures;
    }

    private List<String> readOnEveryNode(String when, Map<String, String> expected) {
        List<String> failures = new ArrayList<>();
        for (int node = 1; node <= NODES; node++) {
            try (HttpClient http = client()) {
                for (var e : expected.entrySet()) {
                    String what = when + ": consistent GET " + e.getKey() + " on node " + node;
                    try {
                        HttpResponse<String> get = http.send(request(node, e.getKey() + "?level=consistent").GET()
                                .build(), HttpResponse.BodyHandlers.ofString());
                        if (get.statusCode() != 200 || !get.body().equals(e.getValue())) {
                            failures.add(what + ": " + get.statusCode() + " " + get.body().strip());
                        }
                    } catch (IOException | InterruptedException x) {
                        failures.add(what + ": no answer (" + x + ")");
                    }
                }
            }
        }
        return failures;
    }

    /** Some keys through node 1 (values "v..."), so that a restart has entries to replay; the first failure. */
    private List<String> fill(String when, String prefix) throws InterruptedException {
        try (HttpClient http = client()) {
            for (int i = 0; i < KEYS_BEFORE_RESTART; i++) {
                String what = when + ": PUT " + prefix + i + " on node 1";
                try {
                    HttpResponse<String> put = http.send(request(1, prefix + i)
                            .PUT(HttpRequest.BodyPublishers.ofString("v" + i)).build(), HttpResponse.BodyHandlers.ofString());
                    if (put.statusCode() != 204) {
                        return List.of(what + ": " + put.statusCode() + " " + put.body().strip());
                    }
                } catch (IOException e) {
                    return List.of(what + ": no answer (" + e + ")");
                }
            }
        }
        return List.of();
    }

    private long pidAnswering(int node) {
        try (HttpClient http = client()) {
            return pidIn(http.send(request(node, "-/status").GET().build(), HttpResponse.BodyHandlers.ofString())
                    .body());
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("node " + node + " does not answer", e);
        }
    }

    private static long pidIn(String status) {
        Matcher m = PID.matcher(status);
        assertThat(m.find()).as(status).isTrue();
        return Long.parseLong(m.group(1));
    }

    private static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(2))
                .build();
    }

    private HttpRequest.Builder request(int node, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + (clientPortBase + node) + "/" + path))
                .timeout(Duration.ofSeconds(10));
    }

    private Path dataDir(String name) {
        Path data = dir.resolve(name);
        dataDirs.add(data);
        return data;
    }

    private record Result(int status, String output) {
    }

    /** {@code bin/local-cluster command} on this test's ports and data directory, with more environment pairs. */
    private Result run(Path data, String command, String... environment) throws Exception {
        return run(SCRIPT, data, List.of(command), environment);
    }

    private Result run(Path script, Path data, List<String> arguments, String... environment) throws Exception {
        List<String> command = new ArrayList<>(List.of(script.toString()));
        command.addAll(arguments);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("local-cluster.out").toFile());
        Map<String, String> env = builder.environment();
        env.put("DATA", data.toString());
        env.put("CLIENT_PORT_BASE", String.valueOf(clientPortBase));
        env.put("PEER_PORT_BASE", String.valueOf(peerPortBase));
        env.put("REDIS_PORT_BASE", String.valueOf(redisPortBase));
        env.put("START_WAIT_S", "60");
        for (int i = 0; i < environment.length; i += 2) {
            env.put(environment[i], environment[i + 1]);
        }
        Process p = builder.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish in 120 s");
        }
        return new Result(p.exitValue(), Files.readString(dir.resolve("local-cluster.out"), StandardCharsets.UTF_8));
    }
}
