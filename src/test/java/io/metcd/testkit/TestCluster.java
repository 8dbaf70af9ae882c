package io.metcd.testkit;

import io.metcd.Node;
import io.metcd.raft.Member;
import io.microraft.RaftRole;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.awaitility.Awaitility.await;

/**
 * Several metcd nodes in this JVM, each with its own WAL directory, peer port and client port, talking
 * over real loopback sockets. A stopped node can be started again on the same data and ports.
 */
public final class TestCluster implements AutoCloseable {
    private final List<Member> members = new ArrayList<>();
    private final int[] clientPorts;
    private final Node[] nodes;
    private final Path dir;
    private final int snapshotCount;

    public TestCluster(Path dir, int size, int snapshotCount) {
        this.dir = dir;
        this.snapshotCount = snapshotCount;
        this.clientPorts = new int[size];
        this.nodes = new Node[size];
        for (int i = 0; i < size; i++) {
            members.add(new Member(i + 1, "http://127.0.0.1:" + Ports.free()));
            clientPorts[i] = Ports.free();
        }
    }

    /** Starts every node and waits for a leader. */
    public TestCluster start() {
        for (int id = 1; id <= nodes.length; id++) {
            start(id);
        }
        awaitLeader();
        return this;
    }

    public void start(int id) {
        nodes[id - 1] = Node.start(new Node.Settings(members.get(id - 1), members, clientPorts[id - 1],
                dir.resolve("node" + id), snapshotCount), () -> {
                    throw new IllegalStateException("WAL failure on node " + id);
                });
    }

    /** Stops a node (clients and peers see its ports close); its data stays for {@link #start(int)}. */
    public void stop(int id) {
        nodes[id - 1].close();
        nodes[id - 1] = null;
    }

    public Node node(int id) {
        return nodes[id - 1];
    }

    public KvClient client(int id) {
        return new KvClient(clientPorts[id - 1]);
    }

    /** Waits until the running nodes agree on one leader, and returns its id. */
    public int awaitLeader() {
        return await().atMost(Duration.ofSeconds(20)).until(this::agreedLeader, Optional::isPresent).get();
    }

    private Optional<Integer> agreedLeader() {
        Integer leader = null;
        for (Node node : nodes) {
            if (node == null) {
                continue;
            }
            Member known = node.raft().leader();
            if (known == null || (leader != null && leader != known.id())) {
                return Optional.empty();
            }
            leader = known.id();
        }
        Node leaderNode = leader == null ? null : nodes[leader - 1];
        return leaderNode != null && leaderNode.raft().role() == RaftRole.LEADER ? Optional.of(leader)
                : Optional.empty();
    }

    /** The id of a running node that is not the leader. */
    public int aFollower() {
        int leader = awaitLeader();
        for (int id = 1; id <= nodes.length; id++) {
            if (id != leader && nodes[id - 1] != null) {
                return id;
            }
        }
        throw new IllegalStateException("no running follower");
    }

    public int size() {
        return nodes.length;
    }

    @Override
    public void close() {
        for (int id = 1; id <= nodes.length; id++) {
            if (nodes[id - 1] != null) {
                stop(id);
            }
        }
    }
}
