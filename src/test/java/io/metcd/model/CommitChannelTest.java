package io.metcd.model;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code commitC}, from the Raft thread to the store's applier: the Raft thread sends with {@code offer} first and waits
 * only when that fails, so an offer refused is a Raft thread held back. Nothing takes from the channel here unless a
 * test says so: the store is busy.
 */
class CommitChannelTest {
    /** {@code --snapshot-count}'s default. */
    private static final int SNAPSHOT_COUNT = 100_000;
    private static final byte[] VALUE = new byte[256];

    /**
     * A node restarting from a snapshot replays the entries after it while its store loads that snapshot; its Raft
     * thread must not wait for the store meanwhile (it would stop answering its leader and its peers' votes).
     */
    @Test
    void aRestartsReplayOfSingleWritesGoesThroughWhileTheStoreIsBusy() {
        Channel<Commit> commitC = Commit.channel(SNAPSHOT_COUNT);

        int sent = sendUntilRefused(commitC, 1, SNAPSHOT_COUNT - 1);

        assertThat(sent).as("entries sent before the first refused").isEqualTo(SNAPSHOT_COUNT - 1);
    }

    /**
     * The next snapshot is taken once a snapshot interval of writes follows the last one: by then the store must have
     * taken the last one's marker off the channel, or that snapshot could be given up before it was written.
     */
    @Test
    void fewerWritesThanASnapshotIntervalFollowASnapshotsMarkerTheStoreHasNotTaken() {
        Channel<Commit> commitC = Commit.channel(100);
        assertThat(commitC.sender().offer(new Commit.Snapshot(0, view -> { }))).isTrue();

        int entries = sendUntilRefused(commitC, 10, 1024);

        assertThat(entries * 10).as("writes sent after the marker").isLessThan(100).isGreaterThanOrEqualTo(90);
    }

    @Test
    void takingCommitsMakesRoomForTheirWrites() throws InterruptedException {
        Channel<Commit> commitC = Commit.channel(100);
        int sent = sendUntilRefused(commitC, 10, 1024);

        commitC.receiver().take();
        List<Commit> drained = new ArrayList<>();
        commitC.receiver().drainTo(drained, 2);

        assertThat(sent).isEqualTo(10);
        assertThat(drained).extracting(Commit::index).containsExactly(2L, 3L);
        assertThat(IntStream.rangeClosed(1, 4).filter(i -> commitC.sender().offer(apply(sent + i, 10))).count())
                .isEqualTo(3);
    }

    /** An entry of more writes than the budget (a batch of many small writes) is not stuck: it waits for an empty channel. */
    @Test
    void anEntryOfMoreWritesThanTheBudgetGoesThroughAnEmptyChannelAlone() throws InterruptedException {
        Channel<Commit> commitC = Commit.channel(100);
        Commit termStarted = new Commit.TermStarted(1, 2);
        Commit large = apply(2, 512);
        assertThat(commitC.sender().offer(termStarted)).isTrue();

        assertThat(commitC.sender().offer(large)).as("behind one commit").isFalse();
        assertThat(commitC.receiver().take()).isSameAs(termStarted);
        assertThat(commitC.sender().offer(large)).as("alone").isTrue();
        assertThat(commitC.sender().offer(new Commit.TermStarted(3, 3))).as("behind it").isFalse();
    }

    /** Offers entries of {@code writes} writes, numbered from 1, until one is refused or {@code max} are sent. */
    private static int sendUntilRefused(Channel<Commit> commitC, int writes, int max) {
        int sent = 0;
        while (sent < max && commitC.sender().offer(apply(sent + 1, writes))) {
            sent++;
        }
        return sent;
    }

    private static Commit apply(long index, int writes) {
        return new Commit.Apply(index, 0, IntStream.range(0, writes)
                .mapToObj(i -> new Operation.Proposal(1, index * 1000 + i, Command.put("key" + index + "-" + i, VALUE)))
                .toList());
    }
}
