package io.metcd.model;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code commitC}, from the Raft thread to the store's applier: the Raft thread sends with {@code offer} first and waits
 * only when that fails, so an offer refused is a Raft thread held back.
 */
class CommitChannelTest {
    /** {@code --snapshot-count}'s default: at most about this many writes follow the snapshot a node restarts from. */
    private static final int SNAPSHOT_COUNT = 100_000;

    /**
     * A node restarting from a snapshot replays the entries after it while its store loads that snapshot; its Raft
     * thread must not wait for the store meanwhile (it would stop answering its leader and its peers' votes).
     */
    @Test
    void aRestartsWorthOfSingleWriteEntriesGoesThroughWhileTheStoreIsBusy() {
        Channel<Commit> commitC = Commit.channel();
        byte[] value = new byte[256];

        int sent = 0;
        while (sent < SNAPSHOT_COUNT && commitC.sender().offer(apply(sent + 1, value))) {
            sent++;
        }

        assertThat(sent).as("entries sent before the first refused").isEqualTo(SNAPSHOT_COUNT);
    }

    /** Large writes hold the Raft thread back after a bounded number of bytes, however few their entries are. */
    @Test
    void entriesOfLargeWritesWaitOnceTheyHoldTheChannelsBytes() {
        Channel<Commit> commitC = Commit.channel();
        byte[] value = new byte[1 << 20]; // one array for all: only the channel's count of bytes grows

        int sent = 0;
        while (sent < 1024 && commitC.sender().offer(apply(sent + 1, value))) {
            sent++;
        }

        assertThat(sent).isEqualTo(Commit.CHANNEL_BYTES / apply(1, value).bytes());
    }

    @Test
    void takingCommitsMakesRoomForAsManyBytes() throws InterruptedException {
        Channel<Commit> commitC = Commit.channel();
        byte[] value = new byte[1 << 20];
        int sent = 0;
        while (commitC.sender().offer(apply(sent + 1, value))) {
            sent++;
        }
        long full = sent;

        commitC.receiver().take();
        List<Commit> drained = new ArrayList<>();
        commitC.receiver().drainTo(drained, 2);

        assertThat(drained).extracting(Commit::index).containsExactly(2L, 3L);
        assertThat(IntStream.range(0, 4).filter(i -> commitC.sender().offer(apply(full + 1 + i, value))).count())
                .isEqualTo(3);
    }

    /** A write larger than the whole budget is not stuck: it goes through once the channel is empty. */
    @Test
    void aCommitHeavierThanTheBudgetGoesThroughAnEmptyChannelAlone() throws InterruptedException {
        Channel<Commit> commitC = new Channel<>(1000, Commit::bytes);
        Commit heavy = apply(1, new byte[5000]);

        assertThat(commitC.sender().offer(heavy)).isTrue();
        assertThat(commitC.sender().offer(new Commit.TermStarted(2, 2))).isFalse();
        assertThat(commitC.receiver().take()).isSameAs(heavy);
        assertThat(commitC.sender().offer(new Commit.TermStarted(2, 2))).isTrue();
    }

    /** An entry of one write of {@code value}. */
    private static Commit apply(long index, byte[] value) {
        return new Commit.Apply(index, 0, List.of(new Operation.Proposal(1, index, Command.put("key" + index, value))));
    }
}
