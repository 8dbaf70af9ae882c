package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.raft.SteeredRaftGroup.Envelope;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.PreVoteRequest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node's Raft thread can be held for longer than the heartbeat timeout while its leader is alive: a follower's
 * waits for its applier when commitC is full (an applier starved of CPU by a thousand watchers held one for 5 s in
 * {@code make bench}), and a long collection stops it. Its leader's heartbeats wait in its queue meanwhile; the
 * follower must read them before it judges the leader silent, not pre-vote first and drop its leader.
 */
class HeldRaftThreadTest {
    /** Heartbeats the leader sends while the follower is held: three heartbeat timeouts' worth. */
    private static final int HEARTBEATS_WHILE_HELD = 3 * (int) (RaftTiming.HEARTBEAT_TIMEOUT.toMillis()
            / RaftTiming.HEARTBEAT_PERIOD.toMillis());

    @Test
    void aFollowerHeldLongerThanTheHeartbeatTimeoutReadsTheHeartbeatsWaitingForItBeforeItJudgesItsLeader() {
        try (SteeredRaftGroup group = SteeredRaftGroup.withMetcdTiming(3).start()) {
            int leader = group.awaitLeader();
            group.replicate(leader, "settled");
            // Not a follower whose start-up pre-vote MicroRaft left over (StalePreVoteFix's case, a history of its own).
            int follower = await().atMost(Duration.ofSeconds(10)).until(() -> IntStream.rangeClosed(1, 3)
                    .filter(id -> id != leader && group.node(id).state().preCandidateState() == null)
                    .findFirst().orElse(0), id -> id > 0);
            int sentBefore = group.sent().size();

            // Held right after it reads a heartbeat: its own check of the leader then comes due before the next one.
            Envelope heartbeat = group.hold(envelope -> envelope.to() == follower
                    && envelope.message() instanceof AppendEntriesRequest).orTimeout(10, TimeUnit.SECONDS).join();
            group.release(heartbeat);
            CountDownLatch release = new CountDownLatch(1);
            group.node(follower).getExecutor().execute(() -> awaitQuietly(release));
            try {
                await().atMost(Duration.ofSeconds(20)).until(() -> appendsTo(group, follower, sentBefore)
                        >= HEARTBEATS_WHILE_HELD);
            } finally {
                release.countDown(); // else a failure here would leave the node held, and closing it would hang
            }
            int sentAfterRelease = group.sent().size();
            // Once the follower has gone through its queue and heard a few heartbeats more, it has judged its leader.
            CompletableFuture<Void> queueRead = new CompletableFuture<>();
            group.node(follower).getExecutor().execute(() -> queueRead.complete(null));
            queueRead.orTimeout(10, TimeUnit.SECONDS).join();
            await().atMost(Duration.ofSeconds(10)).until(() -> appendsTo(group, follower, sentAfterRelease) >= 3);

            assertThat(group.sent().stream().skip(sentBefore)
                    .filter(envelope -> envelope.from() == follower && envelope.message() instanceof PreVoteRequest))
                    .as("pre-votes of the held follower").isEmpty();
            assertThat(((Member) group.node(follower).getTerm().getLeaderEndpoint()).id()).isEqualTo(leader);
        }
    }

    private static long appendsTo(SteeredRaftGroup group, int follower, int from) {
        return group.sent().stream().skip(from)
                .filter(envelope -> envelope.to() == follower && envelope.message() instanceof AppendEntriesRequest)
                .count();
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
