package io.metcd.testkit;

import redis.clients.jedis.HostAndPort;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/**
 * Real {@code bin/metcd} processes, started with the flags {@code make cluster} uses (on free loopback ports, or on
 * the {@link Host}s given), so that tests can kill -9, SIGTERM and restart them as an operator would.
 */
public final class ProcessCluster implements AutoCloseable {
    private static final Path LAUNCHER = Path.of("bin", "metcd").toAbsolutePath();
    private static final Pattern LEADER_ID = Pattern.compile("\"leaderId\":(\\d+)");

    /**
     * Where a node runs: the address it listens on and connects from, its ports (its Redis protocol on
     * {@code redisPort}), and the command prefix that runs a program there (none for this machine, {@code ip netns
     * exec NS} for a network namespace).
     */
    public record Host(String address, int clientPort, int peerPort, int redisPort, List<String> launcher) {
        /** A node on loopback, on free ports. */
        static Host loopback() {
            return new Host("127.0.0.1", Ports.free(), Ports.free(), Ports.free(), List.of());
        }
    }

    private final Path dir;
    private final String engine;
    private final List<String> extraFlags;
    private final List<Host> hosts;
    private final String clusterFlag;
    private final Process[] processes;

    /** @param extraFlags more flags every node starts with, such as {@code --snapshot-count 50} */
    public ProcessCluster(Path dir, int size, String engine, String... extraFlags) {
        this(dir, Stream.generate(Host::loopback).limit(size).toList(), engine, extraFlags);
    }

    /** Node N on {@code hosts.get(N - 1)}. */
    public ProcessCluster(Path dir, List<Host> hosts, String engine, String... extraFlags) {
        if (!Files.exists(Path.of("target", "metcd.jar"))) {
            throw new IllegalStateException("target/metcd.jar is missing: run 'make build' (make test does)");
        }
        this.dir = dir;
        this.engine = engine;
        this.extraFlags = List.of(extraFlags);
        this.hosts = List.copyOf(hosts);
        this.processes = new Process[hosts.size()];
        this.clusterFlag = hosts.stream().map(h -> "http://" + h.address() + ":" + h.peerPort())
                .collect(Collectors.joining(","));
    }

    /**
     * Starts every node and returns once each one serves (what {@code make cluster} waits for): a node opens its
     * client port only after its Raft node has started, so a leader known to one node says nothing of the others.
     */
    public ProcessCluster start() {
        for (int id = 1; id <= processes.length; id++) {
            start(id);
        }
        awaitLeader();
        awaitServing();
        return this;
    }

    /** Waits until every running node answers its health check: it serves clients, knows a leader and applies. */
    public void awaitServing() {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> IntStream.rangeClosed(1, size())
                .filter(this::isRunning).allMatch(id -> client(id).get("-/health").status() == 200));
    }

    /** Starts node {@code id} with the same flags every time, appending its output to {@link #log}. */
    public void start(int id) {
        Host host = hosts.get(id - 1);
        List<String> command = new ArrayList<>(host.launcher());
        command.addAll(List.of(LAUNCHER.toString(), "--id", String.valueOf(id), "--cluster", clusterFlag, "--port",
                String.valueOf(host.clientPort()), "--redis-port", String.valueOf(host.redisPort()), "--engine", engine,
                "--data-dir", dataDir(id).toString()));
        command.addAll(extraFlags);
        processes[id - 1] = run(log(id), command);
    }

    /** Node {@code id}'s {@code --data-dir}, which a test may prepare before the node first starts. */
    public Path dataDir(int id) {
        return dir.resolve("node" + id);
    }

    /** Where node {@code id}'s output goes, across restarts. */
    public Path log(int id) {
        return dir.resolve("node" + id + ".log");
    }

    /** Runs the launcher with any arguments, on this machine, appending its output to {@code log}. */
    public Process launch(Path log, String... args) {
        List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
        command.addAll(List.of(args));
        return run(log, command);
    }

    private static Process run(Path log, List<String> command) {
        try {
            return new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** kill -9: no shutdown hook runs, nothing is flushed that was not already. */
    public void kill(int id) {
        Process p = processes[id - 1];
        p.destroyForcibly();
        waitFor(p);
        processes[id - 1] = null;
    }

    /** SIGTERM, as {@code make cluster-stop} does, and wait for the process to exit. */
    public void terminate(int id) {
        Process p = processes[id - 1];
        p.destroy();
        waitFor(p);
        processes[id - 1] = null;
    }

    /**
     * Waits up to {@code timeout} for node {@code id} to exit by itself (a node that stops itself, or fails) and returns
     * its exit status; the node then counts as stopped, ready for {@link #start(int)}.
     *
     * @throws IllegalStateException if it still runs
     */
    public int awaitExit(int id, Duration timeout) {
        Process p = processes[id - 1];
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("node " + id + " still runs after " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        processes[id - 1] = null;
        return p.exitValue();
    }

    /** SIGSTOP: the process freezes with its sockets open, as a long GC pause or a stalled VM would. */
    public void pause(int id) {
        signal(id, "STOP");
    }

    /** SIGCONT: a paused process goes on where it stopped, its clock having jumped. */
    public void resume(int id) {
        signal(id, "CONT");
    }

    private void signal(int id, String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(processes[id - 1].pid()))
                    .inheritIO().start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("kill -" + signal + " of node " + id + " failed");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The process id of running node {@code id}, for what only the operating system tells (its memory). */
    public long pid(int id) {
        return processes[id - 1].pid();
    }

    /** Whether node {@code id} was started and has not been stopped, and its process is alive. */
    public boolean isRunning(int id) {
        return processes[id - 1] != null && processes[id - 1].isAlive();
    }

    /** Whether node {@code id} was started and has not been stopped by this cluster, alive or not. */
    public boolean wasStarted(int id) {
        return processes[id - 1] != null;
    }

    public int size() {
        return processes.length;
    }

    private static void waitFor(Process p) {
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public KvClient client(int id) {
        return new KvClient(clientUrl(id));
    }

    /** Where node {@code id} serves clients: {@code http://address:port}. */
    public String clientUrl(int id) {
        Host host = hosts.get(id - 1);
        return "http://" + host.address() + ":" + host.clientPort();
    }

    public int clientPort(int id) {
        return hosts.get(id - 1).clientPort();
    }

    /** Where node {@code id} serves the Redis protocol. */
    public HostAndPort redisAddress(int id) {
        Host host = hosts.get(id - 1);
        return new HostAndPort(host.address(), host.redisPort());
    }

    /** Node {@code id}'s peer (Raft) port, for tests that talk raw bytes to it. */
    public int peerPort(int id) {
        return hosts.get(id - 1).peerPort();
    }

    /** Waits until a running node names a leader that is itself running, and returns its id. */
    public int awaitLeader() {
        return await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(this::knownLeader, id -> id > 0);
    }

    private int knownLeader() {
        for (int id = 1; id <= processes.length; id++) {
            if (processes[id - 1] == null) {
                continue;
            }
            Matcher m = LEADER_ID.matcher(client(id).get("-/status").body());
            if (m.find()) {
                int leader = Integer.parseInt(m.group(1));
                if (processes[leader - 1] != null && client(leader).get("-/status").body().contains("\"leader\"")) {
                    return leader;
                }
            }
        }
        return 0;
    }

    @Override
    public void close() {
        for (int id = 1; id <= processes.length; id++) {
            if (processes[id - 1] != null) {
                kill(id);
            }
        }
    }
}
