package io.metcd.chaos;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;

/**
 * Jepsen's nemesis for a {@link ProcessCluster}: one fault at a time, the kinds in turn, on a node picked at random
 * (the leader half of the time), held for a random while, then healed. Link faults go through a {@link Network}.
 */
final class Nemesis {
    enum Fault {
        /** kill -9, then a restart with the same flags. */
        KILL,
        /** SIGSTOP, then SIGCONT: a frozen process whose sockets stay open. */
        PAUSE,
        /** The node cut off from every peer, both ways. */
        PARTITION,
        /** The leader hears nothing from its peers, while what it sends them still arrives. */
        ONE_WAY_PARTITION,
        /** The node's link down: cut off from peers and clients alike. */
        LINK_DOWN,
        /** Every link loses a share of its messages. */
        LOSSY_NETWORK,
        /**
         * etcd's "blackhole until a snapshot is needed": a follower cut off, both ways, until the leader has compacted
         * its log past what the follower holds; healed, it must catch up by installing a snapshot.
         */
        SNAPSHOT_BLACKHOLE;

        boolean isLinkFault() {
            return this != KILL && this != PAUSE;
        }
    }

    /**
     * One fault as it was injected, for the report.
     *
     * @param outcome what came of it, when that is checked (a blackholed follower caught up by snapshot, or not)
     * @param failed  whether the outcome is not what it must be
     */
    record Event(long atMillis, Fault fault, int node, long heldMillis, String outcome, boolean failed) {
        @Override
        public String toString() {
            return "%6d ms  %-18s %s for %d ms%s".formatted(atMillis, fault,
                    fault == Fault.LOSSY_NETWORK ? "every link" : "node " + node, heldMillis,
                    outcome.isEmpty() ? "" : ": " + outcome);
        }
    }

    private static final Pattern LEADER_ID = Pattern.compile("\"leaderId\":(\\d+)");
    private static final Pattern COMMIT_INDEX = Pattern.compile("\"commitIndex\":(\\d+)");
    private static final Pattern SNAPSHOT_INDEX = Pattern.compile("\"lastSnapshotIndex\":(\\d+)");
    private static final Pattern INSTALLED = Pattern.compile("metcd_snapshots_total\\{kind=\"installed\"} (\\d+)");
    /** How long a blackhole may take to make the leader compact past the follower. */
    private static final Duration BLACKHOLE_LIMIT = Duration.ofSeconds(30);
    /** The key the blackhole's own writes go to, none of the workload's registers. */
    private static final String FILLER_KEY = "nemesis-filler";
    private static final int FILLER_BURST = 20;
    /** Entries a follower may hold past the leader's commit index when it is cut off: writes in flight. */
    private static final int UNCOMMITTED_MARGIN = 20;

    private final ProcessCluster cluster;
    private final Network network;
    private final List<Fault> faults;
    private final int snapshotCount;
    private final Random random;
    private final long startNanos;
    private final List<Event> events = new ArrayList<>();

    /** @param snapshotCount the nodes' {@code --snapshot-count}, which sets how much log a leader keeps after one */
    Nemesis(ProcessCluster cluster, Network network, List<Fault> faults, int snapshotCount, long seed,
            long startNanos) {
        this.cluster = cluster;
        this.network = network;
        this.snapshotCount = snapshotCount;
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
            long at = Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
            events.add(switch (fault) {
                case SNAPSHOT_BLACKHOLE -> blackhole(at);
                case ONE_WAY_PARTITION -> hold(at, fault, leaderOrAny());
                default -> hold(at, fault, random.nextBoolean() ? leaderOrAny() : 1 + random.nextInt(cluster.size()));
            });
        }
    }

    List<Event> events() {
        return List.copyOf(events);
    }

    private Event hold(long at, Fault fault, int node) throws InterruptedException {
        // One to four heartbeat timeouts (RaftTiming): a paused or cut-off leader always outlives its lease, and its
        // followers nearly always elect another; faults shorter than a timeout are not drawn. A leader cut off one way is heard by
        // its followers: they elect another only after it has noticed their silence and stepped down, so that one is
        // held long enough for both most of the time.
        long held = fault == Fault.ONE_WAY_PARTITION ? between(2000, 6000) : between(1000, 4000);
        String outcome = "";
        inject(fault, node);
        try {
            Thread.sleep(held);
            if (fault.isLinkFault() && fault != Fault.LOSSY_NETWORK) {
                outcome = leadersSeenByOthers(node);
            }
        } finally {
            heal(fault, node);
        }
        return new Event(at, fault, node, held, outcome, false);
    }

    /** The leader each node other than {@code node} names, as the fault ends: did they move on without it? */
    private String leadersSeenByOthers(int node) {
        List<String> seen = new ArrayList<>();
        for (int id = 1; id <= cluster.size(); id++) {
            if (id != node) {
                seen.add("node " + id + " follows "
                        + field(cluster.client(id), LEADER_ID).map(String::valueOf).orElse("nobody"));
            }
        }
        return "then " + String.join(", ", seen);
    }

    private void inject(Fault fault, int node) {
        switch (fault) {
            case KILL -> cluster.kill(node);
            case PAUSE -> cluster.pause(node);
            case PARTITION -> network.partition(node);
            case ONE_WAY_PARTITION -> network.oneWayPartition(node);
            case LINK_DOWN -> network.linkDown(node);
            case LOSSY_NETWORK -> network.lossy();
            case SNAPSHOT_BLACKHOLE -> throw new IllegalArgumentException("see blackhole()");
        }
    }

    private void heal(Fault fault, int node) {
        switch (fault) {
            case KILL -> {
                cluster.start(node);
                // The next fault may need this node's API: wait until it serves again.
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> cluster.client(node).get("-/status").status() == 200);
            }
            case PAUSE -> cluster.resume(node);
            default -> network.heal();
        }
    }

    /**
     * Cuts a follower off and writes to the leader, as etcd's stresser does, until the leader's latest snapshot is past
     * what the follower may hold by more than the log MicroRaft keeps behind a snapshot; then heals, and checks that
     * the follower catches up by installing a snapshot. The writes go to a key of their own, outside the history. The
     * follower is one that the first node to answer does not name as leader: rarely, when that view is a moment old,
     * the leader itself, which the others then replace and leave behind all the same.
     */
    private Event blackhole(long at) throws InterruptedException {
        int leader = leaderOrAny();
        int follower = (leader + random.nextInt(cluster.size() - 1)) % cluster.size() + 1;
        long installedBefore = await().atMost(Duration.ofSeconds(30))
                .until(() -> installedSnapshots(follower), Optional::isPresent).get();
        long cutAt = System.nanoTime();
        String compaction;
        long past;
        network.partition(follower);
        try {
            // Read once the cut is in place: the log goes on growing while it is made (iptables in the namespaces
            // takes a while), and a bound read before it let a follower hold entries past it, catch up from the
            // log the leader keeps from its match index, and install no snapshot. MicroRaft keeps a tenth of the
            // snapshot interval of log behind a snapshot.
            past = field(cluster.client(leader), COMMIT_INDEX).orElse(0L) + UNCOMMITTED_MARGIN + snapshotCount / 10;
            compaction = writeUntilCompactedPast(past, follower, cutAt + BLACKHOLE_LIMIT.toNanos());
        } finally {
            network.heal();
        }
        long held = Duration.ofNanos(System.nanoTime() - cutAt).toMillis();
        if (compaction == null) {
            return new Event(at, Fault.SNAPSHOT_BLACKHOLE, follower, held,
                    "the leader did not compact past index " + past + " within " + BLACKHOLE_LIMIT.toSeconds() + " s",
                    true);
        }
        long installed;
        try {
            installed = await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                    .until(() -> installedSnapshots(follower).orElse(-1L), n -> n > installedBefore);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            return new Event(at, Fault.SNAPSHOT_BLACKHOLE, follower, held, compaction
                    + ", but the follower installed no snapshot within 30 s of the heal", true);
        }
        return new Event(at, Fault.SNAPSHOT_BLACKHOLE, follower, held, compaction
                + "; caught up by snapshot (snapshots installed " + installedBefore + " -> " + installed + ")", false);
    }

    /**
     * Writes to the leader that the nodes other than {@code cut} follow until its snapshot passes {@code index}; says
     * where it got, or null if not by {@code deadlineNanos}. The cut node may still think it leads: it is never asked.
     */
    private String writeUntilCompactedPast(long index, int cut, long deadlineNanos) throws InterruptedException {
        int writes = 0;
        while (System.nanoTime() < deadlineNanos) {
            Optional<Integer> leader = leaderSeenByAllBut(cut);
            if (leader.isEmpty()) {
                Thread.sleep(100); // an election under way
                continue;
            }
            KvClient client = cluster.client(leader.get());
            Optional<Long> snapshot = field(client, SNAPSHOT_INDEX);
            if (snapshot.isPresent() && snapshot.get() > index) {
                return "leader " + leader.get() + " compacted to " + snapshot.get() + ", past " + index + ", after "
                        + writes + " writes";
            }
            for (int i = 0; i < FILLER_BURST && System.nanoTime() < deadlineNanos; i++) {
                try {
                    if (client.put(FILLER_KEY, "w" + writes++).status() != 204) {
                        break; // not the leader any more, or no quorum yet: ask again who leads
                    }
                } catch (RuntimeException e) {
                    break;
                }
            }
        }
        return null;
    }

    /** The leader that every node but {@code cut} names, if they agree on one other than {@code cut}. */
    private Optional<Integer> leaderSeenByAllBut(int cut) {
        Optional<Integer> agreed = Optional.empty();
        for (int id = 1; id <= cluster.size(); id++) {
            if (id != cut) {
                Optional<Integer> leader = field(cluster.client(id), LEADER_ID).map(Long::intValue);
                if (leader.isEmpty() || leader.get() == cut || agreed.isPresent() && !agreed.equals(leader)) {
                    return Optional.empty();
                }
                agreed = leader;
            }
        }
        return agreed;
    }

    private Optional<Long> installedSnapshots(int node) {
        try {
            Matcher m = INSTALLED.matcher(cluster.client(node).get("-/metrics").body());
            return m.find() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<Long> field(KvClient node, Pattern field) {
        try {
            Matcher m = field.matcher(node.get("-/status").body());
            return m.find() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
        } catch (RuntimeException e) {
            return Optional.empty(); // that node does not answer now
        }
    }

    private int leaderOrAny() {
        for (int id = 1; id <= cluster.size(); id++) {
            Optional<Long> leader = field(cluster.client(id), LEADER_ID);
            if (leader.isPresent()) {
                return leader.get().intValue();
            }
        }
        return 1 + random.nextInt(cluster.size());
    }

    private long between(long fromMillis, long toMillis) {
        return fromMillis + (long) (random.nextDouble() * (toMillis - fromMillis));
    }
}
