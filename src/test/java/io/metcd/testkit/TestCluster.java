package io.metcd.testkit;

import io.metcd.Node;
import io.metcd.kv.Engine;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.microraft.RaftRole;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static org.awaitility.Awaitility.await;

/**
 * Several metcd nodes in this JVM, each with its own WAL directory, peer port and client port, talking
 * over real loopback sockets. A stopped node can be started again on the same data and ports; new members
 * can be declared and started with {@code --join}; a node told it was removed stops itself.
 */
public final class TestCluster implements AutoCloseable {
    private final List<Member> members = new ArrayList<>();
    private final List<Integer> clientPorts = new ArrayList<>();
    private final Map<Integer, Node> nodes = new ConcurrentHashMap<>();
    private final Set<Integer> removed = ConcurrentHashMap.newKeySet();
    /** What stopped a node the way a failed WAL or store stops a real one (which halts its process). */
    private final Map<Integer, Throwable> failStopped = new ConcurrentHashMap<>();
    private final Path dir;
    private final int snapshotCount;
    private final Engine engine;
    private final Map<Integer, Engine> otherEngines = new ConcurrentHashMap<>();
    private boolean faultInjection;
    /** Each node's Redis port, once {@link #withRedis} asked for them. */
    private final List<Integer> redisPorts = new ArrayList<>();

    public TestCluster(Path dir, int size, int snapshotCount) {
        this(dir, size, snapshotCount, Engine.map);
    }

    /** @param engine every node's engine, unless {@link #withEngine} says otherwise */
    public TestCluster(Path dir, int size, int snapshotCount, Engine engine) {
        this.dir = dir;
        this.snapshotCount = snapshotCount;
        this.engine = engine;
        for (int i = 0; i < size; i++) {
            declareMember();
        }
    }

    /** Runs node {@code id} on {@code engine} instead of the cluster's, from its next start. */
    public TestCluster withEngine(int id, Engine engine) {
        otherEngines.put(id, engine);
        return this;
    }

    /** Starts every node, from its next start, with the test-only fault-injection API ({@code --test-faults}). */
    public TestCluster withFaultInjection() {
        faultInjection = true;
        return this;
    }

    /** Serves the Redis protocol on every node, from its next start, on ports of its own ({@link #redisPort}). */
    public TestCluster withRedis() {
        while (redisPorts.size() < members.size()) {
            redisPorts.add(Ports.free());
        }
        return this;
    }

    /** Reserves ports for one more member (the next id) and returns its peer URL; nothing starts. */
    public String declareMember() {
        Member member = new Member(members.size() + 1, "http://127.0.0.1:" + Ports.free());
        members.add(member);
        clientPorts.add(Ports.free());
        if (!redisPorts.isEmpty()) {
            redisPorts.add(Ports.free());
        }
        return member.peerUrl();
    }

    /** Starts every declared node and waits for a leader. */
    public TestCluster start() {
        for (int id = 1; id <= members.size(); id++) {
            start(id);
        }
        awaitLeader();
        return this;
    }

    public void start(int id) {
        start(id, false);
    }

    /**
     * Starts node {@code id} with every declared member in {@code --cluster}, as a joiner if asked. A node that fails
     * its WAL, store or state machine is recorded, not halted (this JVM runs the others): {@link #close} reports it.
     */
    public void start(int id, boolean join) {
        Path dataDir = dir.resolve("node" + id);
        Node node = Node.start(new Node.Settings(members.get(id - 1), List.copyOf(members),
                clientPorts.get(id - 1), dataDir, snapshotCount, join,
                otherEngines.getOrDefault(id, engine), faultInjection, redisPorts.isEmpty() ? 0 : redisPort(id)),
                new FailStop(dataDir, failure -> failStopped.putIfAbsent(id, failure)), () -> {
                    removed.add(id);
                    Node self = nodes.remove(id);
                    if (self != null) {
                        self.close();
                    }
                });
        nodes.put(id, node);
    }

    /** Stops a node (clients and peers see its ports close); its data stays for {@link #start(int)}. */
    public void stop(int id) {
        Node node = nodes.remove(id);
        if (node != null) {
            node.close();
        }
    }

    /** The running node {@code id}, or {@code null}. */
    public Node node(int id) {
        return nodes.get(id);
    }

    /** Whether node {@code id} stopped itself on learning it is not a member. */
    public boolean stoppedAsRemoved(int id) {
        return removed.contains(id);
    }

    public KvClient client(int id) {
        return new KvClient(clientPorts.get(id - 1));
    }

    /** Node {@code id}'s client HTTP port, for tests that talk raw bytes to it. */
    public int clientPort(int id) {
        return clientPorts.get(id - 1);
    }

    /** Node {@code id}'s Redis port, after {@link #withRedis}. */
    public int redisPort(int id) {
        return redisPorts.get(id - 1);
    }

    /** Node {@code id}'s peer (Raft) port, for tests that talk raw bytes to it. */
    public int peerPort(int id) {
        return members.get(id - 1).port();
    }

    /** Waits until the running nodes agree on one leader, and returns its id. */
    public int awaitLeader() {
        return await().atMost(Duration.ofSeconds(20)).until(this::agreedLeader, Optional::isPresent).get();
    }

    private Optional<Integer> agreedLeader() {
        Integer leader = null;
        for (Node node : nodes.values()) {
            Member known = node.raft().leader();
            if (known == null || (leader != null && leader != known.id())) {
                return Optional.empty();
            }
            leader = known.id();
        }
        Node leaderNode = leader == null ? null : nodes.get(leader);
        return leaderNode != null && leaderNode.raft().role() == RaftRole.LEADER ? Optional.of(leader)
                : Optional.empty();
    }

    /** The id of a running node that is not the leader. */
    public int aFollower() {
        int leader = awaitLeader();
        return nodes.keySet().stream().filter(id -> id != leader).findFirst()
                .orElseThrow(() -> new IllegalStateException("no running follower"));
    }

    /** How many members were declared (ids 1 to this). */
    public int size() {
        return members.size();
    }

    /** Stops every node; fails if one of them had to stop itself on a failure of its own (none should). */
    @Override
    public void close() {
        for (int id : List.copyOf(nodes.keySet())) {
            stop(id);
        }
        failStopped.forEach((id, failure) -> {
            throw new AssertionError("node " + id + " stopped on a failure of its own", failure);
        });
    }
}
