package io.metcd;

import io.metcd.kv.Engine;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.BindException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** Flags to wiring, as raftexample's main.go: the channels, the store, the Raft loop, the HTTP and Redis APIs. */
@Command(name = "metcd", mixinStandardHelpOptions = true, sortOptions = false,
        description = "A Raft-replicated key-value store with an HTTP API.")
public final class Main implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    @Option(names = "--id", required = true, description = "this node's id, its 1-based position in --cluster")
    int id;

    @Option(names = "--cluster", required = true, split = ",",
            description = "comma-separated peer URLs of all members, in id order")
    List<String> cluster;

    @Option(names = "--port", defaultValue = "3379", description = "client HTTP port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--join", description = "join an existing cluster (after POST /-/members/{id})")
    boolean join;

    @Option(names = "--engine", defaultValue = "map", description = "storage engine: ${COMPLETION-CANDIDATES}")
    Engine engine;

    @Option(names = "--data-dir", description = "WAL, snapshots and engine files (default data/node{id})")
    Path dataDir;

    @Option(names = "--redis-port", defaultValue = "0",
            description = "serve the Redis protocol on this port (default ${DEFAULT-VALUE}: off)")
    int redisPort;

    @Option(names = "--snapshot-count", defaultValue = "100000",
            description = "client writes between automatic snapshots (default ${DEFAULT-VALUE})")
    int snapshotCount;

    // Hidden: a node that lets any client cut its links is for tests and `make chaos` only.
    @Option(names = "--test-faults", hidden = true,
            description = "serve the fault-injection admin requests under /-/test/ (tests only)")
    boolean testFaults;

    @Override
    public Integer call() throws Exception {
        List<Member> members = members();
        Member local = members.get(id - 1);
        Path dir = dataDir != null ? dataDir : Path.of("data", "node" + id);
        Node node;
        try {
            node = Node.start(new Node.Settings(local, members, port, dir, snapshotCount, join, engine,
                    testFaults, redisPort), FailStop.halting(dir), () -> System.exit(0));
        } catch (RuntimeException e) {
            if (causedByTakenPort(e)) {
                // Not a bad flag but the machine's state: one line, no usage, no stack trace.
                System.err.println("metcd: " + e.getMessage());
                return 1;
            } else if (e instanceof IllegalStateException) {
                throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
            }
            throw e;
        }
        LOG.info("node {} serving clients on port {}{} and peers on {} ({} {})", id, port,
                redisPort == 0 ? "" : " (Redis on " + redisPort + ")", local.peerUrl(),
                node.restarted() ? "restarted from" : "new, in", dir);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("node {} shutting down", id);
            node.close();
        }, "shutdown"));
        Thread.currentThread().join();
        return 0;
    }

    private static boolean causedByTakenPort(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException) {
                return true;
            }
        }
        return false;
    }

    private List<Member> members() {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < cluster.size(); i++) {
            try {
                members.add(Member.parse(i + 1, cluster.get(i)));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
            }
        }
        if (id < 1 || id > members.size()) {
            throw new CommandLine.ParameterException(new CommandLine(this),
                    "--id " + id + " is not a position in --cluster (1.." + members.size() + ")");
        }
        if (port < 1 || port > 65535) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--port " + port + " is not a port");
        }
        if (redisPort < 0 || redisPort > 65535 || redisPort == port) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--redis-port " + redisPort
                    + " is not a port other than --port (0 turns the Redis protocol off)");
        }
        if (snapshotCount < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--snapshot-count must be positive");
        }
        return members;
    }

    public static void main(String[] args) {
        int code = new CommandLine(new Main()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }
}
