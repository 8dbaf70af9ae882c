package io.metcd.chaos;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class LostWritesTest {
    private static final int FINAL = ChaosRun.FINAL_READER;

    @Test
    void anAcknowledgedWriteOverwrittenOnlyByLaterWritesIsNotLost() {
        List<Op> history = List.of(
                Op.write(1, "k", "a", 0, 10, Op.Outcome.OK),
                Op.write(2, "k", "b", 20, 30, Op.Outcome.OK),
                Op.read(FINAL, "k", "b", 40, 50, Op.Outcome.OK));
        assertThat(LostWrites.of(history)).isEmpty();
    }

    @Test
    void anAcknowledgedWriteIsLostWhenTheFinalValueIsOneItCertainlyFollowed() {
        Op lost = Op.write(2, "k", "b", 20, 30, Op.Outcome.OK);
        List<Op> history = List.of(
                Op.write(1, "k", "a", 0, 10, Op.Outcome.OK),
                lost,
                Op.read(FINAL, "k", "a", 40, 50, Op.Outcome.OK));
        assertThat(LostWrites.of(history)).containsExactly(lost);
    }

    @Test
    void anAcknowledgedWriteIsLostWhenItsKeyEndsAbsent() {
        Op lost = Op.write(1, "k", "a", 0, 10, Op.Outcome.OK);
        assertThat(LostWrites.of(List.of(lost, Op.read(FINAL, "k", null, 40, 50, Op.Outcome.OK))))
                .containsExactly(lost);
    }

    @Test
    void aConcurrentOrUnknownSurvivorAccountsForTheWrite() {
        List<Op> history = List.of(
                Op.write(1, "k", "a", 0, 25, Op.Outcome.OK),
                Op.write(2, "k", "b", 20, 30, Op.Outcome.OK),
                Op.write(3, "k", "c", 5, 5, Op.Outcome.UNKNOWN),
                Op.read(FINAL, "k", "a", 40, 50, Op.Outcome.OK));
        assertThat(LostWrites.of(history)).isEmpty();
    }

    @Test
    void anAcknowledgedCasCountsAsAWrite() {
        Op lost = Op.cas(2, "k", 7, "b", 9, 20, 30, Op.Outcome.OK);
        List<Op> history = List.of(
                Op.write(1, "k", "a", 7, 0, 10, Op.Outcome.OK),
                lost,
                Op.read(FINAL, "k", "a", 40, 50, Op.Outcome.OK));
        assertThat(LostWrites.of(history)).containsExactly(lost);
    }
}
