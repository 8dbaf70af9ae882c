package io.metcd.raft;

import io.microraft.impl.log.RaftLog;
import io.microraft.model.log.LogEntry;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * After any snapshot a node takes, its log holds every entry it says it holds: a snapshot never moves the start of the
 * log back over entries an earlier one dropped ({@link SnapshotTruncationFix}). MicroRaft keeps some entries before a
 * snapshot for followers that lag a little, chosen by what it knows of them at that moment, so two snapshots close
 * together may choose differently.
 */
class SnapshotTruncationFixTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    /**
     * The leader's first snapshot drops everything up to the index both followers hold; the second keeps one entry
     * for the follower that stopped there, an entry the first one dropped. A leader whose log claims that entry
     * fails every request it builds for that follower (MicroRaft reads the entry to send its term), heartbeats
     * included, and the follower never catches up.
     */
    @Test
    void aFollowerStoppedAtTheLeadersSnapshotCatchesUpAfterTheLeadersNextSnapshot() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int leader = group.awaitLeader();
            int running = leader % 3 + 1;
            int stopped = running % 3 + 1;
            replicate(group, leader, 5);
            long first = awaitBothFollowersAtTheLeadersLast(group, leader);
            group.drop(e -> e.to() == stopped || e.from() == stopped);

            assertThat(takeSnapshot(group, leader)).isEqualTo(first);
            replicate(group, leader, 5);
            long second = takeSnapshot(group, leader);
            assertThat(second).isGreaterThan(first);

            group.drop(e -> false);
            long last = group.report(leader).getLog().getLastLogOrSnapshotIndex();
            await().atMost(PATIENCE).until(
                    () -> group.report(stopped).getLog().getLastLogOrSnapshotIndex() >= last);
        }
    }

    /**
     * A leader's snapshot drops everything its followers hold; the same node, a follower after a leadership
     * transfer, takes another a few entries later and, knowing no follower's log, keeps a tenth of a snapshot
     * interval before it: entries the first snapshot dropped (the group's interval is a million entries, so a
     * tenth reaches back to index 1).
     */
    @Test
    void aSnapshotTakenAsAFollowerSoonAfterOneTakenAsALeaderLeavesNoEmptySlot() {
        try (SteeredRaftGroup group = new SteeredRaftGroup(3).start()) {
            int leader = group.awaitLeader();
            int next = leader % 3 + 1;
            replicate(group, leader, 5);
            awaitBothFollowersAtTheLeadersLast(group, leader);
            takeSnapshot(group, leader);

            group.node(leader).transferLeadership(group.node(next).getLocalEndpoint()).join();
            assertThat(group.awaitLeader()).isEqualTo(next);
            replicate(group, next, 3);
            long committed = group.report(next).getLog().getCommitIndex();
            await().atMost(PATIENCE).until(() -> group.report(leader).getLog().getCommitIndex() >= committed);
            takeSnapshot(group, leader);

            assertThat(emptySlots(group, leader)).isEmpty();
        }
    }

    private static void replicate(SteeredRaftGroup group, int leader, int count) {
        IntStream.range(0, count).forEach(i -> group.replicate(leader, "op" + i));
    }

    /** Waits until the leader knows both followers hold its whole log, and returns its last index. */
    private static long awaitBothFollowersAtTheLeadersLast(SteeredRaftGroup group, int leader) {
        long last = group.report(leader).getLog().getLastLogOrSnapshotIndex();
        await().atMost(PATIENCE).until(() -> group.report(leader).getLog().getFollowerMatchIndices().values()
                .stream().allMatch(index -> index == last));
        return last;
    }

    /** Has node {@code id} take a snapshot at what it has applied, and returns the snapshot's index. */
    private static long takeSnapshot(SteeredRaftGroup group, int id) {
        return group.node(id).takeSnapshot().orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join()
                .getResult().getLog().getLastSnapshotIndex();
    }

    /** The indices node {@code id}'s log says it holds but has no entry for, read on its Raft thread. */
    private static List<Long> emptySlots(SteeredRaftGroup group, int id) {
        return group.onRaftThread(id, node -> {
            RaftLog log = node.state().log();
            List<Long> empty = new ArrayList<>();
            for (long index = 1; index <= log.lastLogOrSnapshotIndex(); index++) {
                if (log.containsLogEntry(index) && entryOrNull(log, index) == null) {
                    empty.add(index);
                }
            }
            return empty;
        });
    }

    /**
     * The entry at {@code index}, or null for an empty slot: MicroRaft returns it, or, with assertions on (as in
     * tests), fails its own check of the entry's index on it.
     */
    private static LogEntry entryOrNull(RaftLog log, long index) {
        try {
            return log.getLogEntry(index);
        } catch (NullPointerException emptySlot) {
            return null;
        }
    }
}
