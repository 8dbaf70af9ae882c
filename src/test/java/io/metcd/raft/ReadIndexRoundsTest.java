package io.metcd.raft;

import io.metcd.model.Member;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A leader's read index stands only on answers to heartbeats it sent after the read was asked: those prove that no
 * other leader had been elected by the time the read started. Answers that were already on their way say nothing of
 * that moment: a leader stopped (SIGSTOP, a long pause) while a heartbeat round was in flight finds them waiting when
 * it goes on, after the others may have elected a successor that committed writes since. MicroRaft 0.7 lets a query
 * join the round in flight, and so answers it from them; {@link ReadIndex} must not.
 */
class ReadIndexRoundsTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @Test
    void aReadAskedWhileAHeartbeatRoundIsInFlightIsNotConfirmedByThatRoundsAnswers() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int leader = group.awaitLeader();
            ReadIndex readIndex = leadersReadIndexWithRoundAnswersHeld(group, leader);

            CompletableFuture<Long> first = readIndex.of(true);
            SteeredRaftGroup.Envelope answerToFirstRound = awaitAnswer(group, leader, 1);
            CompletableFuture<Long> second = readIndex.of(true);
            group.release(answerToFirstRound);

            first.orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join();
            assertThat(second).as("a read asked after the answer confirming the round in flight was sent").isNotDone();
            group.release(awaitAnswer(group, leader, 2));
            assertThat(second.orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join())
                    .isGreaterThanOrEqualTo(first.join());
        }
    }

    /**
     * A round can fail inside MicroRaft after MicroRaft has registered its query, as it starts the round's heartbeats
     * (here a fault the test injects there; in a chaos run, an empty slot in the leader's log). MicroRaft 0.7 then
     * fails the read but keeps the query, and the next one joins it as if its round were still in flight: heartbeats
     * MicroRaft sends for it later, and their answers, may precede the next read.
     */
    @Test
    void aReadAskedAfterARoundFailedInsideMicroRaftIsNotConfirmedByThatRoundsAnswers() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int leader = group.awaitLeader();
            ReadIndex readIndex = leadersReadIndexWithRoundAnswersHeld(group, leader);
            group.failBuildingARoundsRequest(leader);

            CompletableFuture<Long> failed = readIndex.of(true);
            assertThat(failed).failsWithin(PATIENCE);
            // Sent after the failure, for the query MicroRaft kept.
            SteeredRaftGroup.Envelope answerToFailedRound = awaitAnswer(group, leader, 1);
            CompletableFuture<Long> next = readIndex.of(true);
            group.release(answerToFailedRound);
            group.onRaftThread(leader, node -> "every message delivered so far is handled");

            assertThat(next).as("a read asked after the failed round's answer was sent").isNotDone();
            group.release(awaitAnswer(group, leader, 2));
            assertThat(next.orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join()).isPositive();
        }
    }

    /**
     * An answer to a round of an earlier term, held up on its way (a partition that heals, a link that delivers
     * late), reaches the same node once it leads again: its rounds count from 1 again in each term, and MicroRaft
     * 0.7 acts on answers of any earlier term, so that answer would confirm the new term's round of the same number,
     * asked long after it was sent.
     */
    @Test
    void aReadIsNotConfirmedByAnAnswerFromAnEarlierTermOfTheSameLeader() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int leader = group.awaitLeader();
            int late = leader % 3 + 1;
            int other = late % 3 + 1;
            group.replicate(leader, "an entry of the leader's first term");
            ReadIndex readIndex = new ReadIndex((Member) group.node(leader).getLocalEndpoint(), group.node(leader),
                    null, LeaderLease.following(RaftTiming.HEARTBEAT_TIMEOUT));
            CompletableFuture<SteeredRaftGroup.Envelope> heldUp = group.hold(e -> e.from() == late
                    && e.to() == leader && e.message() instanceof AppendEntriesSuccessResponse r
                    && r.getQuerySequenceNumber() == 1);
            readIndex.of(true).orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join();
            SteeredRaftGroup.Envelope answerOfTheFirstTerm = heldUp.orTimeout(PATIENCE.toMillis(),
                    TimeUnit.MILLISECONDS).join();

            group.node(leader).transferLeadership(group.node(other).getLocalEndpoint()).join();
            assertThat(group.awaitLeader()).isEqualTo(other);
            group.node(other).transferLeadership(group.node(leader).getLocalEndpoint()).join();
            assertThat(group.awaitLeader()).isEqualTo(leader);
            group.replicate(leader, "an entry of the leader's later term");
            group.drop(e -> e.to() == leader && e.message() instanceof AppendEntriesSuccessResponse r
                    && r.getQuerySequenceNumber() > 0);

            CompletableFuture<Long> read = readIndex.of(true);
            awaitAnswer(group, leader, 1);
            group.release(answerOfTheFirstTerm);
            group.onRaftThread(leader, node -> "every message delivered so far is handled");

            assertThat(read).as("a read confirmed only by an answer of an earlier term").isNotDone();
        }
    }

    /**
     * The read index of {@code leader}, once an entry of its term is committed; from then on every answer to a
     * heartbeat round is kept from the leader until the test delivers it.
     */
    private static ReadIndex leadersReadIndexWithRoundAnswersHeld(SteeredRaftGroup group, int leader) {
        group.replicate(leader, "an entry of the leader's term");
        group.drop(e -> e.to() == leader && e.message() instanceof AppendEntriesSuccessResponse r
                && r.getQuerySequenceNumber() > 0);
        // The leader's own node never sends on this path: no transport.
        return new ReadIndex((Member) group.node(leader).getLocalEndpoint(), group.node(leader), null,
                LeaderLease.following(RaftTiming.HEARTBEAT_TIMEOUT));
    }

    /** A follower's answer to the leader's heartbeat round {@code round}, once one has been sent. */
    private static SteeredRaftGroup.Envelope awaitAnswer(SteeredRaftGroup group, int leader, long round) {
        return await().atMost(PATIENCE).until(() -> group.sent().stream()
                .filter(e -> e.to() == leader && e.message() instanceof AppendEntriesSuccessResponse r
                        && r.getQuerySequenceNumber() == round)
                .findFirst(), Optional::isPresent).orElseThrow();
    }
}
