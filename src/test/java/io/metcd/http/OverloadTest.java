package io.metcd.http;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;
import io.metcd.testkit.WriteLoad;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Writes arriving faster than the leader can commit them are refused with a 503 and Retry-After once they cannot be
 * committed in time, rather than queued without end: the node answers every write within its request timeout, so what
 * it holds for writes in flight is bounded by how many arrive in that time, and it stays up. Nothing is acknowledged
 * that was not committed.
 * <p>
 * Commits are slowed down for real: one follower is paused (SIGSTOP) and every message between the leader and the other
 * is held back {@link #LINK_DELAY} (the test-only fault injection), so that each commit takes a round trip of a second
 * or more, while {@link #WRITERS} clients write to the leader for {@link #LOAD}, each sending its next write as
 * soon as the last is answered.
 * <p>
 * What refuses the writes here is the request timeout ("write not committed in time"). The bounds of the queues inside
 * (Node's PROPOSE_CAPACITY of 16384 writes waiting to be proposed, MicroRaft's maxPendingLogEntryCount of 2000
 * uncommitted entries, past which writes are refused as "too many writes in flight") are not reached: each client has
 * one write in flight, and fewer than 2000 are written in all.
 */
class OverloadTest {
    private static final int WRITERS = 500;
    private static final Duration LOAD = Duration.ofSeconds(8);
    private static final int MAX_WRITES_PER_WRITER = 1000;
    private static final int VALUE_BYTES = 1024;
    /** A round trip of a second: commits crawl, and the leader still hears its follower every heartbeat, late. */
    private static final Duration LINK_DELAY = Duration.ofMillis(500);
    private static final int WARM_UP_WRITERS = 50;
    private static final int WARM_UP_WRITES = 5;
    /** The request timeout (KVStore.REQUEST_TIMEOUT, 5 s), plus room for a crowded 2-core machine to read the request and answer. */
    private static final Duration ANSWERED_WITHIN = Duration.ofSeconds(10);
    /** bin/metcd's -Xmx: a node that queued writes without end would reach it. */
    private static final long HEAP_BYTES = 1L << 30;
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @TempDir
    static Path dir;
    static ProcessCluster cluster;
    static int leader;
    /** Every write acknowledged, in the warm-up and under the overload. */
    static final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    static final AtomicInteger refused = new AtomicInteger();
    static final List<String> otherOutcomes = new CopyOnWriteArrayList<>();
    static final AtomicLong slowestAnswerNanos = new AtomicLong();
    static long leaderPeakMemoryBytes;
    static boolean leaderRanThroughout;

    @BeforeAll
    static void overloadTheLeaderWhileCommitsAreSlow() throws IOException {
        cluster = new ProcessCluster(dir, 3, "map", "--test-faults").start();
        leader = cluster.awaitLeader();
        warmUp();
        int paused = leader % 3 + 1;
        int slowed = paused % 3 + 1;
        KvClient client = cluster.client(leader);
        cluster.pause(paused);
        try {
            assertThat(client.send("PUT", "-/test/faults/" + slowed + "?delay-ms=" + LINK_DELAY.toMillis(), null)
                    .status()).isEqualTo(204);
            long end = System.nanoTime() + LOAD.toNanos();
            String pad = "x".repeat(VALUE_BYTES);
            try (ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int w = 0; w < WRITERS; w++) {
                    String prefix = "w" + w + "-";
                    writers.submit(() -> {
                        for (int i = 0; i < MAX_WRITES_PER_WRITER && System.nanoTime() < end; i++) {
                            write(client, prefix + i, i + pad);
                        }
                    });
                }
            }
            leaderRanThroughout = cluster.isRunning(leader);
            if (leaderRanThroughout) {
                leaderPeakMemoryBytes = peakResidentBytes(cluster.pid(leader));
            }
        } finally {
            cluster.resume(paused);
            client.send("DELETE", "-/test/faults", null);
        }
    }

    /**
     * Some writes first, at a pace the cluster keeps up with: a cold node's first burst of clients costs it class
     * loading, compilation and a full GC of a second or more, which can cost the leader its lease, and this test its
     * point.
     */
    private static void warmUp() {
        List<WriteLoad> loads = new ArrayList<>();
        try {
            for (int w = 0; w < WARM_UP_WRITERS; w++) {
                loads.add(new WriteLoad("warm-up-" + w + "-", WARM_UP_WRITES, () -> leader, cluster::client));
            }
            loads.forEach(load -> load.awaitAcknowledged(WARM_UP_WRITES));
        } finally {
            loads.forEach(WriteLoad::close);
        }
        loads.forEach(load -> acknowledged.putAll(load.acknowledged()));
    }

    private static void write(KvClient client, String key, String value) {
        long started = System.nanoTime();
        try {
            KvClient.Response answer = client.put(key, value);
            if (answer.status() == 204) {
                acknowledged.put(key, value);
            } else if (answer.status() == 503 && answer.header("Retry-After") != null) {
                refused.incrementAndGet();
            } else {
                otherOutcomes.add(answer.toString());
            }
        } catch (RuntimeException e) {
            otherOutcomes.add(e.toString());
        }
        slowestAnswerNanos.accumulateAndGet(System.nanoTime() - started, Math::max);
    }

    /** VmHWM: the most memory the process has held, as Linux counts it. */
    private static long peakResidentBytes(long pid) throws IOException {
        String hwm = Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
                .filter(line -> line.startsWith("VmHWM:")).findFirst().orElseThrow();
        return Long.parseLong(hwm.replaceAll("\\D", "")) * 1024;
    }

    private static String outcomes() {
        return acknowledged.size() + " acknowledged, " + refused + " refused with Retry-After, " + otherOutcomes.size()
                + " otherwise";
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    @Test
    void writesThatCannotCommitInTimeAreRefusedWith503AndRetryAfter() {
        assertThat(refused).as(OverloadTest::outcomes).hasPositiveValue();
    }

    @Test
    void everyWriteIsAnsweredWith204Or503WithinTheRequestTimeout() {
        assertThat(otherOutcomes).as(OverloadTest::outcomes).isEmpty();
        assertThat(Duration.ofNanos(slowestAnswerNanos.get())).isLessThan(ANSWERED_WITHIN);
    }

    @Test
    void theLeaderStaysUpFarBelowItsHeapLimit() {
        assertThat(leaderRanThroughout).isTrue();
        assertThat(leaderPeakMemoryBytes).isLessThan(HEAP_BYTES);
    }

    /** Should the leader lose its lease under the overload, its writes are all refused: the warm-up's still count. */
    @Test
    void everyAcknowledgedWriteIsReadFromEveryNode() {
        assertThat(acknowledged).isNotEmpty();
        for (int id = 1; id <= cluster.size(); id++) {
            KvClient client = cluster.client(id);
            await().atMost(PATIENCE).ignoreExceptions().until(() -> client.get("-/health").status() == 200);
            assertThat(acknowledged).allSatisfy((key, value) ->
                    assertThat(client.get(key + "?level=consistent").body()).as(key).isEqualTo(value));
        }
    }
}
