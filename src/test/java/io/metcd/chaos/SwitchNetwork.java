package io.metcd.chaos;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * The nodes' own switch ({@code transport/NetworkFaults}, reached through {@code /-/test/faults} on nodes started with
 * {@code --test-faults}): messages vanish or wait inside the sender or the receiver, and no connection breaks. It
 * cannot cut one direction of a link only, nor a node's clients.
 */
final class SwitchNetwork implements Network {
    static final Set<Nemesis.Fault> FAULTS = Collections.unmodifiableSet(
            EnumSet.of(Nemesis.Fault.PARTITION, Nemesis.Fault.LOSSY_NETWORK));
    private static final Duration LOSSY_DELAY = Duration.ofMillis(30);
    private final ProcessCluster cluster;

    SwitchNetwork(ProcessCluster cluster) {
        this.cluster = cluster;
    }

    @Override
    public void partition(int node) {
        for (int peer = 1; peer <= cluster.size(); peer++) {
            if (peer != node) {
                setLink(node, peer, "loss=1");
                setLink(peer, node, "loss=1");
            }
        }
    }

    @Override
    public void oneWayPartition(int node) {
        throw new UnsupportedOperationException("the nodes' switch faults both directions of a link");
    }

    @Override
    public void linkDown(int node) {
        throw new UnsupportedOperationException("the nodes' switch cannot cut a node's clients");
    }

    /** Every link drops a fifth of its messages and delays the rest by 30 ms. */
    @Override
    public void lossy() {
        for (int from = 1; from <= cluster.size(); from++) {
            for (int to = 1; to <= cluster.size(); to++) {
                if (from != to) {
                    setLink(from, to, "loss=0.2&delay-ms=" + LOSSY_DELAY.toMillis());
                }
            }
        }
    }

    @Override
    public void heal() {
        for (int id = 1; id <= cluster.size(); id++) {
            if (cluster.isRunning(id)) {
                admin(id, "DELETE", "-/test/faults");
            }
        }
    }

    private void setLink(int node, int peer, String fault) {
        admin(node, "PUT", "-/test/faults/" + peer + "?" + fault);
    }

    /**
     * A fault-injection request, sent again once if the connection fails: they are idempotent, and the HTTP client
     * may pick a pooled connection that the node closed (idle, or killed and restarted) as the request goes out.
     */
    private void admin(int node, String method, String path) {
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
}
