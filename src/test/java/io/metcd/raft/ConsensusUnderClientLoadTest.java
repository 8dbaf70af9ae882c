package io.metcd.raft;

import io.metcd.Node;
import io.metcd.model.Member;
import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Client work runs on virtual threads, which share a few carrier threads; consensus must not wait behind it. A follower
 * serving a thousand watchers, its carriers busy for more than a heartbeat timeout, still hears its leader's heartbeats,
 * and the leader its followers' answers: no election, no follower giving its leader up.
 */
class ConsensusUnderClientLoadTest {
    /** Longer than a follower waits for heartbeats, with room for a late one. */
    private static final Duration BUSY = RaftTiming.HEARTBEAT_TIMEOUT.multipliedBy(3);

    @TempDir
    Path dir;

    @Test
    void noNodeGivesItsLeaderUpWhileClientWorkHoldsEveryCarrierThread() throws InterruptedException {
        try (TestCluster cluster = new TestCluster(dir, 3, 1000).start()) {
            int leader = cluster.awaitLeader();
            long term = cluster.node(leader).raft().term();

            List<String> seen = new ArrayList<>();
            long busyUntil = System.nanoTime() + BUSY.toNanos();
            List<Thread> busy = holdEveryCarrierUntil(busyUntil);
            // This thread is a platform one: it keeps running while the carriers are held.
            while (System.nanoTime() < busyUntil) {
                String view = views(cluster);
                if (!seen.contains(view)) {
                    seen.add(view);
                }
                Thread.sleep(5);
            }
            for (Thread thread : busy) {
                thread.join();
            }

            assertThat(seen).as("each node's (leader, term) while the carriers were held")
                    .containsExactly(expectedView(cluster, leader, term));
        }
    }

    /**
     * Virtual threads that spin without ever parking until {@code until}: more of them than the scheduler has carriers, so
     * that no other virtual thread runs meanwhile, as under a flood of requests and watch events.
     */
    private static List<Thread> holdEveryCarrierUntil(long until) {
        int carriers = Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
                Runtime.getRuntime().availableProcessors());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < carriers * 2; i++) {
            threads.add(Thread.ofVirtual().name("client-work-" + i).start(() -> {
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
            }));
        }
        return threads;
    }

    private static String views(TestCluster cluster) {
        Map<Integer, String> views = new TreeMap<>();
        for (int id = 1; id <= cluster.size(); id++) {
            Node node = cluster.node(id);
            Member known = node.raft().leader();
            views.put(id, (known == null ? "none" : known.id()) + "@" + node.raft().term());
        }
        return views.toString();
    }

    private static String expectedView(TestCluster cluster, int leader, long term) {
        Map<Integer, String> views = new TreeMap<>();
        for (int id = 1; id <= cluster.size(); id++) {
            views.put(id, leader + "@" + term);
        }
        return views.toString();
    }
}
