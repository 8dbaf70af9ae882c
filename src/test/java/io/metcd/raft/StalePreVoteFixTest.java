package io.metcd.raft;

import io.microraft.RaftRole;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.VoteRequest;
import io.microraft.model.message.VoteResponse;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A follower that hears of its leader while its own pre-vote is out, in the term it is already in (as the last node
 * to start does, having voted in the first election before the winner's appends reach it), must still notice when
 * that leader falls silent. Here it holds the longest log of the two that remain, so no one else can be elected.
 */
class StalePreVoteFixTest {
    private static final int HEARTBEAT_TIMEOUT_SECS = 2;
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @Test
    void aFollowerThatLearnedItsLeaderDuringItsOwnPreVoteNoticesWhenThatLeaderFallsSilent() {
        int late = 3;
        try (SteeredRaftGroup group = new SteeredRaftGroup(3, HEARTBEAT_TIMEOUT_SECS)) {
            // The late node takes part in the election only: it votes, hears nothing of the winner, and pre-votes.
            group.drop(e -> (e.to() == late || e.from() == late)
                    && !(e.message() instanceof VoteRequest || e.message() instanceof VoteResponse));
            // Started first, so that it is running when the others' election asks for its vote.
            IntStream.of(late, 1, 2).forEach(group::start);
            await().atMost(PATIENCE).until(() -> group.node(late).getTerm().getTerm() > 0
                    && group.node(late).getTerm().getLeaderEndpoint() == null
                    && group.node(late).state().preCandidateState() != null);
            group.drop(e -> false);
            int leader = group.awaitLeader();
            int other = IntStream.rangeClosed(1, 3).filter(id -> id != leader && id != late).findFirst().orElseThrow();

            // The other follower falls one entry behind the late one, then the leader falls silent.
            group.drop(e -> e.from() == leader && e.to() == other && e.message() instanceof AppendEntriesRequest);
            group.replicate(leader, "only on the late follower");
            group.drop(e -> e.from() == leader || e.to() == leader);

            await().atMost(PATIENCE).until(() -> group.node(late).getTerm().getLeaderEndpoint() != null
                    && group.node(late).getTerm().getLeaderEndpoint().equals(group.node(late).getLocalEndpoint()));
            assertThat(group.node(late).getReport().join().getResult().getRole()).isEqualTo(RaftRole.LEADER);
        }
    }
}
