package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.raft.SteeredRaftGroup.Envelope;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.PreVoteRequest;
import io.microraft.model.message.PreVoteResponse;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
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
 * follower must read them before it judges the leader silent, not pre-vote first and drop its leader. And when its
 * leader dies while it is held, it must judge the leader's silence by when the last heartbeat arrived, not by when it
 * got to read it: a pre-vote that arrived a heartbeat timeout after that is granted, or the cluster, which needs this
 * follower's vote once the leader is gone, elects no one until a heartbeat timeout after the hold.
 */
class HeldRaftThreadTest {
    /** Heartbeats the leader sends while the follower is held: three heartbeat timeouts' worth. */
    private static final int HEARTBEATS_WHILE_HELD = 3 * (int) (RaftTiming.HEARTBEAT_TIMEOUT.toMillis()
            / RaftTiming.HEARTBEAT_PERIOD.toMillis());

    @Test
    void aFollowerHeldLongerThanTheHeartbeatTimeoutReadsTheHeartbeatsWaitingForItBeforeItJudgesItsLeader() {
        try (SteeredRaftGroup group = SteeredRaftGroup.withMetcdTiming(3).start()) {
            int leader = group.awaitLeader();
            int follower = settledFollower(group, leader);
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

    @Test
    void aFollowerHeldWhileItsLeaderDiesGrantsThePreVotesThatArrivedAHeartbeatTimeoutAfterTheLeaderFellSilent() {
        try (SteeredRaftGroup group = SteeredRaftGroup.withMetcdTiming(3).start()) {
            int leader = group.awaitLeader();
            int follower = settledFollower(group, leader);
            int other = IntStream.rangeClosed(1, 3).filter(id -> id != leader && id != follower).findFirst()
                    .orElseThrow();
            int sentBefore = group.sent().size();

            CountDownLatch release = new CountDownLatch(1);
            group.node(follower).getExecutor().execute(() -> awaitQuietly(release));
            try {
                // Heartbeats wait for the held follower; then the leader dies.
                await().atMost(Duration.ofSeconds(10)).until(() -> appendsTo(group, follower, sentBefore) >= 3);
                group.drop(envelope -> envelope.from() == leader || envelope.to() == leader);
                // The other follower gives the leader up a heartbeat timeout after its last heartbeat and pre-votes
                // again after each election timeout: its third request comes well over a heartbeat timeout after the
                // last heartbeat that reached the held follower.
                await().atMost(Duration.ofSeconds(20)).until(() -> preVotes(group, other, follower, sentBefore)
                        .size() >= 3);
            } finally {
                release.countDown();
            }

            await().atMost(Duration.ofSeconds(10)).until(() -> preVoteAnswers(group, follower, other, sentBefore)
                    .size() >= 3);
            assertThat(preVoteAnswers(group, follower, other, sentBefore).subList(0, 3))
                    .as("the held follower's answers to the pre-votes that waited for it").contains(true);
        }
    }

    /**
     * A follower of {@code leader} once a write is committed, and not one whose start-up pre-vote MicroRaft left over
     * (StalePreVoteFix's case, a history of its own).
     */
    private static int settledFollower(SteeredRaftGroup group, int leader) {
        group.replicate(leader, "settled");
        return await().atMost(Duration.ofSeconds(10)).until(() -> IntStream.rangeClosed(1, 3)
                .filter(id -> id != leader && group.node(id).state().preCandidateState() == null)
                .findFirst().orElse(0), id -> id > 0);
    }

    private static List<PreVoteRequest> preVotes(SteeredRaftGroup group, int from, int to, int skip) {
        return sent(group, from, to, skip, PreVoteRequest.class);
    }

    private static List<Boolean> preVoteAnswers(SteeredRaftGroup group, int from, int to, int skip) {
        return sent(group, from, to, skip, PreVoteResponse.class).stream().map(PreVoteResponse::isGranted).toList();
    }

    /** The messages of {@code type} sent from {@code from} to {@code to}, after the first {@code skip} of all. */
    private static <T> List<T> sent(SteeredRaftGroup group, int from, int to, int skip, Class<T> type) {
        return group.sent().stream().skip(skip).filter(envelope -> envelope.from() == from && envelope.to() == to)
                .map(Envelope::message).filter(type::isInstance).map(type::cast).toList();
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
