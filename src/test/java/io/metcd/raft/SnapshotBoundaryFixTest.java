package io.metcd.raft;

import io.microraft.model.message.AppendEntriesRequest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The requests {@link SnapshotBoundaryFix} rewrites (previous index inside the follower's snapshot) must never make
 * a follower claim entries it does not hold, whatever happens to them: here one arrives late, from a deposed leader,
 * and is refused for its stale term; then the new leader's flow-control sequence numbers, which start again at 1,
 * reach the number it carried.
 */
class SnapshotBoundaryFixTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @Test
    void aLeadersMatchIndexForAFollowerNeverExceedsTheFollowersLog() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int oldLeader = group.awaitLeader();
            int follower = oldLeader % 3 + 1;
            int newLeader = follower % 3 + 1;
            replicate(group, oldLeader, 5);

            CompletableFuture<SteeredRaftGroup.Envelope> late = group.hold(e -> e.from() == oldLeader
                    && e.to() == follower && e.message() instanceof AppendEntriesRequest r
                    && r.getPreviousLogIndex() > 0);
            replicate(group, oldLeader, 5);
            AppendEntriesRequest lateRequest = (AppendEntriesRequest) late.join().message();
            long committed = group.report(oldLeader).getLog().getCommitIndex();
            await().atMost(PATIENCE).until(() -> group.report(follower).getLog().getCommitIndex() == committed);
            long snapshot = group.node(follower).takeSnapshot().join().getCommitIndex();
            assertThat(snapshot).isGreaterThanOrEqualTo(lateRequest.getPreviousLogIndex());
            // Entries past the snapshot: the new leader's requests are then never rewritten.
            replicate(group, oldLeader, 3);
            long last = group.report(oldLeader).getLog().getLastLogOrSnapshotIndex();
            await().atMost(PATIENCE).until(() -> group.report(follower).getLog().getLastLogOrSnapshotIndex() == last);

            group.node(oldLeader).transferLeadership(group.node(newLeader).getLocalEndpoint()).join();
            assertThat(group.awaitLeader()).isEqualTo(newLeader);
            group.release(late.join());

            // One request per write: the new leader's numbers soon pass the late request's. A leader misled about
            // the follower's log fails its next request to it (an assertion in MicroRaft), so none is required to
            // commit here.
            long collidingNumber = lateRequest.getFlowControlSequenceNumber();
            await().atMost(PATIENCE).until(() -> {
                group.node(newLeader).replicate("after").exceptionally(failure -> null).join();
                return !group.overclaims().isEmpty() || group.sent().stream().anyMatch(e -> e.from() == newLeader
                        && e.to() == follower && e.message() instanceof AppendEntriesRequest r
                        && r.getFlowControlSequenceNumber() > collidingNumber);
            });

            assertThat(group.overclaims()).isEmpty();
            long held = group.report(follower).getLog().getLastLogOrSnapshotIndex();
            assertThat(group.report(newLeader).getLog().getFollowerMatchIndices().get(group.node(follower)
                    .getLocalEndpoint())).isLessThanOrEqualTo(held);
        }
    }

    private static void replicate(SteeredRaftGroup group, int leader, int count) {
        IntStream.range(0, count).forEach(i -> group.replicate(leader, "op" + i));
    }
}
