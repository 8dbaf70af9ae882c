package io.metcd.raft;

import io.metcd.testkit.HttpAnswer;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;
import io.metcd.testkit.WriteLoad;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A deposed leader must not answer a {@code default} (lease) or {@code consistent} read with the value from before
 * its successor replaced it: its lease runs out a heartbeat timeout after its followers last heard from it, whatever
 * kept it from noticing (see {@link LeaderLease}).
 * <p>
 * In each case the leader writes a value under a write load, then the others ignore it, elect a new leader and replace
 * the value, and only then is it read from: the answers allowed are the new value or a 503 with Retry-After. The others
 * ignore it until it has given up leading, so that its answers depend on its own judgment of its lease only, not on
 * how soon the new leader's messages would have told it that it was deposed.
 */
class LeaderLeaseTest {
    /** MicroRaft's leader heartbeat timeout: no lease lasts longer. */
    private static final Duration LEASE = RaftTiming.HEARTBEAT_TIMEOUT;
    /** Less than a lease, so that the late answers renew MicroRaft's lease before it runs out. */
    private static final Duration LATE_BY = LEASE.multipliedBy(3).dividedBy(4);
    private static final Duration PATIENCE = Duration.ofSeconds(30);
    /** Where a pause catches the leader's Raft thread decides whether answers wait in its queue: a few tries. */
    private static final int PAUSES = 3;
    private static final int WRITERS = 8;
    /** Reads of each level per batch. */
    private static final int READS = 4;
    private static final List<String> LEVELS = List.of("default", "consistent");
    private static final String LEADER_ROLE = "\"role\":\"leader\"";

    @TempDir
    static Path dir;
    static ProcessCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = new ProcessCluster(dir, 3, "map", "--test-faults").start();
    }

    @AfterAll
    static void stopCluster() {
        cluster.close();
    }

    /**
     * SIGSTOP, longer than the lease, then SIGCONT. The first reads are written to its client port while it is stopped,
     * so that the kernel hands them over the instant it resumes; more follow at once. Its followers' answers to its
     * last heartbeats reach its Raft thread only then, as late as the pause was long.
     */
    @Test
    void aLeaderResumedFromAPauseLongerThanItsLeaseAnswersNoReadWithTheValueFromBeforeIt() throws Exception {
        for (int i = 0; i < PAUSES; i++) {
            List<HttpAnswer> answers = new ArrayList<>();
            try (Deposed deposed = new Deposed("paused-" + i)) {
                List<Socket> queued = new ArrayList<>();
                long pausedAt = System.nanoTime();
                cluster.pause(deposed.old);
                try {
                    deposed.cutOff();
                    deposed.replaceTheValueElsewhere();
                    for (String level : LEVELS) {
                        for (int r = 0; r < READS; r++) {
                            queued.add(sendGet(cluster.clientPort(deposed.old), "/" + deposed.key + "?level=" + level));
                        }
                    }
                } finally {
                    cluster.resume(deposed.old);
                }
                assertThat(Duration.ofNanos(System.nanoTime() - pausedAt)).as("the pause").isGreaterThan(LEASE);
                List<Future<HttpAnswer>> immediate = deposed.readAtEveryLevel();
                deposed.awaitItGivesUpLeading();
                deposed.heal();
                for (Socket socket : queued) {
                    try (socket) {
                        answers.add(HttpAnswer.read(socket.getInputStream()));
                    }
                }
                for (Future<HttpAnswer> answer : immediate) {
                    answers.add(answer.get());
                }
                deposed.awaitItServesTheNewValue();
            }
            assertOnlyTheNewValueOrA503(answers);
        }
    }

    /**
     * No pause, but every answer from its followers reaches its Raft thread {@link #LATE_BY} after it arrives, as on a
     * slow network or behind a slow disk sync: MicroRaft 0.7 alone dates each answer when it handles it, and so leases
     * the leader that much longer than its followers promised it.
     */
    @Test
    void aLeaderWhoseFollowersAnswersReachItLateAnswersNoReadWithTheValueItsSuccessorReplaced() throws Exception {
        List<HttpAnswer> answers = new ArrayList<>();
        try (Deposed deposed = new Deposed("late")) {
            for (int other : deposed.others) {
                assertThat(cluster.client(deposed.old).send("PUT",
                        "-/test/faults/" + other + "?delay-ms=" + LATE_BY.toMillis(), null).status()).isEqualTo(204);
            }
            deposed.cutOff();
            deposed.replaceTheValueElsewhere();
            List<Future<HttpAnswer>> reads = deposed.readAtEveryLevel();
            deposed.awaitItGivesUpLeading();
            deposed.heal();
            for (Future<HttpAnswer> answer : reads) {
                answers.add(answer.get());
            }
            deposed.awaitItServesTheNewValue();
        }
        assertOnlyTheNewValueOrA503(answers);
    }

    private static void assertOnlyTheNewValueOrA503(List<HttpAnswer> answers) {
        assertThat(answers).isNotEmpty().allSatisfy(answer -> {
            if (answer.status() == 503) {
                assertThat(answer.header("Retry-After")).as(answer.toString()).isNotNull();
            } else {
                assertThat(answer).as(answer.toString()).returns(200, HttpAnswer::status)
                        .returns("after", HttpAnswer::body);
            }
        });
    }

    /** Writes a GET whole on a new connection at once, whether or not the node is running, and returns the socket. */
    private static Socket sendGet(int port, String path) throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout((int) PATIENCE.toMillis());
        socket.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: metcd\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        return socket;
    }

    /**
     * The leader of the moment, about to be deposed: it has written {@code key} = "before" and is under a write load
     * until closed, which also heals every link.
     */
    private static final class Deposed implements AutoCloseable {
        final String key;
        final int old;
        final List<Integer> others;
        private final List<WriteLoad> loads = new ArrayList<>();
        private final ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor();

        Deposed(String key) {
            this.key = key;
            this.old = cluster.awaitLeader();
            this.others = IntStream.rangeClosed(1, cluster.size()).filter(id -> id != old).boxed().toList();
            await().atMost(PATIENCE).until(() -> cluster.client(old).put(key, "before").status() == 204);
            for (int w = 0; w < WRITERS; w++) {
                loads.add(new WriteLoad(key + "-load-" + w + "-", 100_000, () -> old, cluster::client));
            }
            loads.forEach(load -> load.awaitAcknowledged(10));
        }

        /** The others drop every message to and from it (the test-only fault injection API). */
        void cutOff() {
            for (int other : others) {
                assertThat(cluster.client(other).send("PUT", "-/test/faults/" + old + "?loss=1", null).status())
                        .isEqualTo(204);
            }
        }

        /** Writes "after" through another node, which takes the others electing a new leader. */
        void replaceTheValueElsewhere() {
            await().atMost(PATIENCE).until(() -> cluster.client(others.getFirst()).put(key, "after").status() == 204);
        }

        /** Starts {@link #READS} reads of the key at each level from the old leader, all at once. */
        List<Future<HttpAnswer>> readAtEveryLevel() {
            List<Future<HttpAnswer>> reads = new ArrayList<>();
            for (String level : LEVELS) {
                for (int r = 0; r < READS; r++) {
                    reads.add(readers.submit(() -> HttpAnswer.of(cluster.client(old).get(key + "?level=" + level))));
                }
            }
            return reads;
        }

        /** Until then it has nothing but its lease to go by. */
        void awaitItGivesUpLeading() {
            await().atMost(PATIENCE).until(() -> !cluster.client(old).get("-/status").body().contains(LEADER_ROLE));
        }

        void heal() {
            for (int id = 1; id <= cluster.size(); id++) {
                cluster.client(id).send("DELETE", "-/test/faults", null);
            }
        }

        /** The reads asked the right node the right question: once it hears from the others, it answers "after". */
        void awaitItServesTheNewValue() {
            KvClient client = cluster.client(old);
            for (String level : LEVELS) {
                await().atMost(PATIENCE).until(() -> client.get(key + "?level=" + level).body().equals("after"));
            }
        }

        @Override
        public void close() {
            heal();
            loads.forEach(WriteLoad::close);
            readers.close();
        }
    }
}
