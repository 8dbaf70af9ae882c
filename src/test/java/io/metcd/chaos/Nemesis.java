package io.metcd.chaos;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;

/**
 * Jepsen's nemesis for a {@link ProcessCluster} started with {@code --test-faults}: one fault at a time, the
 * kinds in turn, on a node picked at random (the leader half of the time), held for a random while, then healed.
 */
final class Nemesis {
    enum Fault {
        /** kill -9, then a restart with the same flags. */
        KILL,
        /** SIGSTOP, then SIGCONT: a frozen process whose sockets stay open. */
        PAUSE,
        /** The node cut off from every peer, both ways. */
        PARTITION,
        /** Every link loses a fifth of its messages and delays the rest. */
        LOSSY_NETWORK
    }

    /** One fault as it was injected, for the report. */
    record Event(long atMillis, Fault fault, int node, long heldMillis) {
        @Override
        public String toString() {
            return "%6d ms  %-13s node %d for %d ms".formatted(atMillis, fault, node, heldMillis);
        }
    }

    private static final Pattern LEADER_ID = Pattern.compile("\"leaderId\":(\\d+)");
    private static final Duration LOSSY_DELAY = Duration.ofMillis(30);

    private final ProcessCluster cluster;
    private final List<Fault> faults;
    private final Random random;
    private final long startNanos;
    private final List<Event> events = new ArrayList<>();

    Nemesis(ProcessCluster cluster, List<Fault> faults, long seed, long startNanos) {
        this.cluster = cluster;
        this.random = new Random(seed);
        List<Fault> order = new ArrayList<>(faults);
        Collections.shuffle(order, random);
        this.faults = List.copyOf(order);
        this.startNanos = startNanos;
    }

    /** Injects and heals faults, one after another, until {@code deadlineNanos}; every fault is healed on return. */
    void run(long deadlineNanos) throws InterruptedException {
        while (System.nanoTime() < deadlineNanos) {
            Thread.sleep(between(500, 1500));
            if (System.nanoTime() >= deadlineNanos) {
                return;
            }
            // In turn rather than at random, so that even a short run sees every kind of fault.
            Fault fault = faults.get(events.size() % faults.size());
            int node = random.nextBoolean() ? leaderOrAny() : 1 + random.nextInt(cluster.size());
            // Up to twice the leader's heartbeat timeout, so that some faults cost the leader its lease.
            long held = between(1000, 4000);
            long at = Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
            inject(fault, node);
            try {
                Thread.sleep(held);
            } finally {
                heal(fault, node);
            }
            events.add(new Event(at, fault, node, held));
        }
    }

    List<Event> events() {
        return List.copyOf(events);
    }

    private void inject(Fault fault, int node) {
        switch (fault) {
            case KILL -> cluster.kill(node);
            case PAUSE -> cluster.pause(node);
            case PARTITION -> {
                for (int peer = 1; peer <= cluster.size(); peer++) {
                    if (peer != node) {
                        setLink(node, peer, "loss=1");
                        setLink(peer, node, "loss=1");
                    }
                }
            }
            case LOSSY_NETWORK -> {
                for (int from = 1; from <= cluster.size(); from++) {
                    for (int to = 1; to <= cluster.size(); to++) {
                        if (from != to) {
                            setLink(from, to, "loss=0.2&delay-ms=" + LOSSY_DELAY.toMillis());
                        }
                    }
                }
            }
        }
    }

    private void heal(Fault fault, int node) {
        switch (fault) {
            case KILL -> {
                cluster.start(node);
                // The next fault may need this node's admin API: wait until it serves again.
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> cluster.client(node).get("-/status").status() == 200);
            }
            case PAUSE -> cluster.resume(node);
            case PARTITION, LOSSY_NETWORK -> healLinks(cluster);
        }
    }

    /** Clears every injected link fault on every running node. */
    static void healLinks(ProcessCluster cluster) {
        for (int id = 1; id <= cluster.size(); id++) {
            if (cluster.isRunning(id)) {
                admin(cluster, id, "DELETE", "-/test/faults");
            }
        }
    }

    private void setLink(int node, int peer, String fault) {
        admin(cluster, node, "PUT", "-/test/faults/" + peer + "?" + fault);
    }

    /**
     * A fault-injection request, sent again once if the connection fails: they are idempotent, and the HTTP client
     * may pick a pooled connection that the node closed (idle, or killed and restarted) as the request goes out.
     */
    private static void admin(ProcessCluster cluster, int node, String method, String path) {
        KvClient.Response response;
        try {
            response = cluster.client(node).send(method, path, null);
        } catch (UncheckedIOException e) {
            response = cluster.client(node).send(method, path, null);
        }
        if (response.status() != 204) {
            throw new IllegalStateException("node " + node + " refused a fault-injection request: " + response);
        }
    }

    private int leaderOrAny() {
        for (int id = 1; id <= cluster.size(); id++) {
            try {
                Matcher m = LEADER_ID.matcher(cluster.client(id).get("-/status").body());
                if (m.find()) {
                    return Integer.parseInt(m.group(1));
                }
            } catch (RuntimeException e) {
                // That node does not answer now: ask another.
            }
        }
        return 1 + random.nextInt(cluster.size());
    }

    private long between(long fromMillis, long toMillis) {
        return fromMillis + (long) (random.nextDouble() * (toMillis - fromMillis));
    }
}
