package io.metcd.chaos;

import io.metcd.chaos.LinearizabilityChecker.KeyVerdict;
import io.metcd.chaos.LinearizabilityChecker.Result;
import io.metcd.chaos.LinearizabilityChecker.Verdict;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;

import static io.metcd.chaos.Op.Outcome.FAILED;
import static io.metcd.chaos.Op.Outcome.OK;
import static io.metcd.chaos.Op.Outcome.UNKNOWN;
import static io.metcd.chaos.CheckerAssertions.assertLinearizable;
import static io.metcd.chaos.CheckerAssertions.assertNotLinearizable;
import static io.metcd.chaos.CheckerAssertions.check;
import static io.metcd.chaos.CheckerAssertions.ms;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

/**
 * What the checker accepts and rejects. Histories are written as operations on key {@code "k"} unless said
 * otherwise, with start and end times in milliseconds.
 */
class LinearizabilityCheckerTest {

    @Test
    void aSequentialHistoryIsLinearizable() {
        assertLinearizable(
                read(1, null, 0, 1),
                write(1, "a", 2, 3),
                read(2, "a", 4, 5),
                write(2, "b", 6, 7),
                read(1, "b", 8, 9));
    }

    @Test
    void aReadOverlappingAWriteMaySeeTheValueBeforeIt() {
        assertLinearizable(
                write(1, "a", 0, 1),
                write(1, "b", 2, 10),
                read(2, "a", 3, 5));
    }

    @Test
    void aReadOverlappingAWriteMaySeeTheValueItWrites() {
        assertLinearizable(
                write(1, "a", 0, 1),
                write(1, "b", 2, 10),
                read(2, "b", 3, 5));
    }

    @Test
    void concurrentWritesMayTakeEffectInEitherOrder() {
        assertLinearizable(
                write(1, "a", 0, 10),
                write(2, "b", 0, 10),
                read(3, "a", 11, 12));
        assertLinearizable(
                write(1, "a", 0, 10),
                write(2, "b", 0, 10),
                read(3, "b", 11, 12));
    }

    @Test
    void operationsThatTouchInTimeCountAsConcurrent() {
        assertLinearizable(
                write(1, "a", 0, 5),
                read(2, null, 5, 6));
    }

    @Test
    void aStaleReadIsRejected() {
        assertNotLinearizable(
                write(1, "a", 0, 1),
                write(1, "b", 2, 3),
                read(2, "a", 4, 5));
    }

    @Test
    void aReadOfAValueNeverWrittenIsRejected() {
        Result result = check(
                write(1, "a", 0, 1),
                read(2, "z", 2, 3));

        assertThat(result.verdict()).isEqualTo(Verdict.NOT_LINEARIZABLE);
        assertThat(result.toString()).contains("no write of this key wrote that value");
    }

    @Test
    void aReadOfAValueWrittenOnlyAfterTheReadCompletedIsRejected() {
        assertNotLinearizable(
                read(2, "a", 0, 1),
                write(1, "a", 2, 3));
    }

    @Test
    void aLostAcknowledgedWriteIsRejected() {
        assertNotLinearizable(
                write(1, "a", 0, 1),
                write(2, "b", 2, 3),
                read(3, "a", 10, 11),
                read(1, "a", 20, 21));
    }

    @Test
    void anUnknownWriteThatShowsUpLaterIsAccepted() {
        assertLinearizable(
                write(1, "a", 0, 1, UNKNOWN),
                read(2, null, 2, 3),
                read(2, "a", 50, 51));
    }

    @Test
    void anUnknownWriteThatNeverShowsUpIsAccepted() {
        assertLinearizable(
                write(1, "a", 0, 1),
                write(2, "b", 2, 3, UNKNOWN),
                read(3, "a", 4, 5),
                read(3, "a", 100, 101));
    }

    @Test
    void anUnknownWriteThatShowedUpCannotBeUndoneByItsOlderValue() {
        assertNotLinearizable(
                write(1, "a", 0, 1),
                write(2, "b", 2, 3, UNKNOWN),
                read(3, "b", 10, 11),
                read(3, "a", 20, 21));
    }

    @Test
    void aReadOfAFailedWritesValueIsRejected() {
        Result result = check(
                write(1, "a", 0, 1, FAILED),
                read(2, "a", 2, 3));

        assertThat(result.verdict()).isEqualTo(Verdict.NOT_LINEARIZABLE);
        assertThat(result.toString()).contains("its only write FAILED (client 1)");
    }

    @Test
    void readsThatFailedOrTimedOutAreIgnored() {
        assertLinearizable(
                write(1, "a", 0, 1),
                read(2, "never written", 2, 3, FAILED),
                read(2, null, 4, 5, UNKNOWN),
                read(3, "a", 6, 7));
    }

    @Test
    void readsBeforeAnyWriteSeeTheKeyAbsent() {
        assertLinearizable(
                read(1, null, 0, 1),
                read(2, null, 0, 2),
                write(3, "a", 3, 4),
                read(1, "a", 5, 6));
    }

    @Test
    void aReadOfAnAbsentKeyAfterAWriteCompletedIsRejected() {
        assertNotLinearizable(
                write(1, "a", 0, 1),
                read(2, null, 2, 3));
    }

    @Test
    void keysAreCheckedIndependently() {
        Result result = LinearizabilityChecker.check(List.of(
                Op.write(1, "good", "a", ms(0), ms(1), OK),
                Op.read(2, "good", "a", ms(2), ms(3), OK),
                Op.write(1, "bad", "a", ms(0), ms(1), OK),
                Op.write(1, "bad", "b", ms(2), ms(3), OK),
                Op.read(2, "bad", "a", ms(4), ms(5), OK),
                Op.read(3, "untouched", null, ms(4), ms(5), OK)));

        assertThat(result.keys()).extracting(KeyVerdict::key, KeyVerdict::verdict).containsExactly(
                tuple("bad", Verdict.NOT_LINEARIZABLE),
                tuple("good", Verdict.LINEARIZABLE),
                tuple("untouched", Verdict.LINEARIZABLE));
        assertThat(result.linearizable()).isFalse();
    }

    @Test
    void aValueWrittenOnAnotherKeyIsNeverWrittenOnThisOne() {
        Result result = LinearizabilityChecker.check(List.of(
                Op.write(1, "x", "a", ms(0), ms(1), OK),
                Op.read(2, "y", "a", ms(2), ms(3), OK)));

        assertThat(result.keys()).extracting(KeyVerdict::verdict)
                .containsExactly(Verdict.LINEARIZABLE, Verdict.NOT_LINEARIZABLE);
    }

    @Test
    void aValueWrittenTwiceOnOneKeyIsRefused() {
        assertThatThrownBy(() -> check(write(1, "a", 0, 1), write(2, "a", 2, 3)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"a\" is written twice");
    }

    @Test
    void theReportShowsTheSmallestFailingWindowAndNotTheOperationsAroundIt() {
        List<Op> history = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            history.add(write(7, "early" + i, 10 * i, 10 * i + 2));
            history.add(read(8, "early" + i, 10 * i + 3, 10 * i + 5));
        }
        Op older = write(1, "old", 300, 301);
        Op newer = write(2, "new", 302, 303);
        Op stale = read(3, "old", 304, 305);
        history.addAll(List.of(older, newer, stale, write(7, "late", 310, 311), read(8, "late", 312, 313)));

        KeyVerdict verdict = LinearizabilityChecker.check(history).keys().getFirst();

        assertThat(verdict.window()).containsExactly(older, newer, stale);
        assertThat(verdict.report())
                .contains("3 of its 45 operations")
                .containsPattern("300\\.000 +301\\.000 +1  write \"old\"")
                .containsPattern("302\\.000 +303\\.000 +2  write \"new\"")
                .containsPattern("304\\.000 +305\\.000 +3  read +\"old\" +OK +<- fails here")
                .doesNotContain("early", "late");
    }

    @Test
    void theResultPrintsEveryKeysVerdictForATestFailureMessage() {
        Result result = LinearizabilityChecker.check(List.of(
                Op.write(1, "good", "a", ms(0), ms(1), OK),
                Op.write(1, "bad", "a", ms(0), ms(1), OK),
                Op.read(2, "bad", null, ms(2), ms(3), OK)));

        assertThat(result.toString())
                .startsWith("NOT linearizable: 1 of 2 keys fail")
                .contains("key \"good\": linearizable (1 operations")
                .contains("key \"bad\": NOT linearizable")
                .containsPattern("read +absent +OK +<- fails here");
    }

    @Test
    void aSearchOverItsBudgetGivesTheDistinctUnknownVerdict() {
        List<Op> history = new SimulatedRegister(new Random(1), "k").history(4, 50, 0.5);

        Result result = LinearizabilityChecker.check(history, 10);

        assertThat(result.verdict()).isEqualTo(Verdict.UNKNOWN_BUDGET_EXCEEDED);
        assertThat(result.linearizable()).isFalse();
        assertThat(result.toString()).contains("unknown (budget exceeded)");
    }

    @Test
    void historiesOfAnAtomicRegisterAreAccepted() {
        for (long seed = 0; seed < 300; seed++) {
            Random random = new Random(seed);
            List<Op> history = new ArrayList<>();
            for (String key : List.of("k1", "k2")) {
                history.addAll(new SimulatedRegister(random, key)
                        .history(1 + random.nextInt(12), 1 + random.nextInt(40), random.nextDouble()));
            }

            Result result = LinearizabilityChecker.check(history);

            assertThat(result.linearizable()).as("seed %d: %s", seed, result).isTrue();
        }
    }

    @Test
    void aReadChangedToAnOlderValueIsRejectedWhenNoOrderCouldExplainIt() {
        int detectable = 0;
        for (long seed = 0; seed < 300; seed++) {
            Random random = new Random(seed);
            List<Op> history = new SimulatedRegister(random, "k")
                    .history(2 + random.nextInt(5), 10 + random.nextInt(30), 0.4);
            Optional<OlderValueMutation> mutation = OlderValueMutation.of(history, random);
            if (mutation.isEmpty()) {
                continue;
            }

            Result result = LinearizabilityChecker.check(mutation.get().history());

            if (mutation.get().detectable()) {
                detectable++;
                assertThat(result.verdict()).as("seed %d, %s", seed, mutation.get())
                        .isEqualTo(Verdict.NOT_LINEARIZABLE);
            } else {
                assertThat(result.verdict()).as("seed %d", seed).isNotEqualTo(Verdict.UNKNOWN_BUDGET_EXCEEDED);
            }
        }
        assertThat(detectable).as("mutations that must be detected").isGreaterThan(100);
    }

    @Test
    void agreesWithAnExhaustiveSearchOfEveryOrderOnSmallRandomHistories() {
        int notLinearizable = 0;
        for (long seed = 0; seed < 20_000; seed++) {
            List<Op> history = smallRandomHistory(new Random(seed));
            boolean expected = ExhaustiveSearch.linearizable(history);

            Result result = LinearizabilityChecker.check(history);

            assertThat(result.linearizable()).as("seed %d: %s%n%s", seed, history, result).isEqualTo(expected);
            notLinearizable += expected ? 0 : 1;
        }
        assertThat(notLinearizable).as("histories not linearizable").isBetween(5_000, 15_000);
    }

    @Test
    void everyWindowReportedIsByItselfNotLinearizableAsOfOneOfItsCompletions() {
        for (long seed = 0; seed < 5_000; seed++) {
            List<Op> history = smallRandomHistory(new Random(seed));
            KeyVerdict verdict = LinearizabilityChecker.check(history).keys().getFirst();
            if (verdict.verdict() != Verdict.NOT_LINEARIZABLE) {
                continue;
            }
            List<Op> window = verdict.window();

            assertThat(history).containsAll(window);
            assertThat(window).as("seed %d: %s", seed, verdict.report()).filteredOn(op -> op.outcome() == OK)
                    .anyMatch(op -> !ExhaustiveSearch.linearizable(asOf(window, op.completeNanos())));
        }
    }

    @Test
    void aHistoryOfThousandsOfOperationsOnOneKeyIsCheckedInUnderASecond() {
        List<Op> history = new SimulatedRegister(new Random(42), "k").history(16, 250, 0.5);
        LinearizabilityChecker.check(history); // warms up the JIT

        long start = System.nanoTime();
        Result result = LinearizabilityChecker.check(history);
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

        assertThat(result.linearizable()).isTrue();
        assertThat(elapsedMillis).isLessThan(1_000);
    }

    /**
     * One {@code OK} read of a history changed to return an older value: the value of a write that completed
     * before the read began, or absent. It is detectable, that is no linearization can explain it, when another
     * write began after the older write completed and completed before the read began.
     */
    private record OlderValueMutation(List<Op> history, Op original, Op changed, boolean detectable) {
        static Optional<OlderValueMutation> of(List<Op> history, Random random) {
            List<Op> reads = history.stream().filter(op -> op.kind() == Op.Kind.READ && op.outcome() == OK).toList();
            if (reads.isEmpty()) {
                return Optional.empty();
            }
            Op read = reads.get(random.nextInt(reads.size()));
            List<Op> olderWrites = okWrites(history)
                    .filter(w -> w.completeNanos() < read.invokeNanos() && !w.value().equals(read.value())).toList();
            int choice = random.nextInt(olderWrites.size() + 1);
            if (choice == olderWrites.size() && read.value() == null) {
                return Optional.empty();
            }
            Op older = choice == olderWrites.size() ? null : olderWrites.get(choice);
            long olderCompleted = older == null ? Long.MIN_VALUE : older.completeNanos();
            boolean detectable = okWrites(history)
                    .anyMatch(w -> w.invokeNanos() > olderCompleted && w.completeNanos() < read.invokeNanos());
            Op changed = Op.read(read.client(), read.key(), older == null ? null : older.value(), read.invokeNanos(),
                    read.completeNanos(), OK);
            List<Op> mutated = history.stream().map(op -> op == read ? changed : op).toList();
            return Optional.of(new OlderValueMutation(mutated, read, changed, detectable));
        }

        private static Stream<Op> okWrites(List<Op> history) {
            return history.stream().filter(op -> op.kind() == Op.Kind.WRITE && op.outcome() == OK);
        }

        @Override
        public String toString() {
            return original + " changed to read " + changed.value();
        }
    }

    /**
     * Up to 8 operations on key "k" by 4 clients in 20 ms, 30% of them not OK; reads return a value written,
     * absent, or now and then a value nobody wrote.
     */
    private static List<Op> smallRandomHistory(Random random) {
        List<Op> history = new ArrayList<>();
        List<String> written = new ArrayList<>();
        int size = 1 + random.nextInt(8);
        for (int i = 0; i < size; i++) {
            long start = random.nextInt(20);
            long end = start + random.nextInt(8);
            Op.Outcome outcome = random.nextInt(10) < 7 ? OK : random.nextBoolean() ? FAILED : UNKNOWN;
            if (random.nextInt(5) < 2) {
                written.add("v" + i);
                history.add(write(i % 4, "v" + i, start, end, outcome));
            } else {
                int pick = random.nextInt(written.size() + 2);
                String value = pick < written.size() ? written.get(pick) : pick == written.size() ? null : "nobody's";
                history.add(read(i % 4, value, start, end, outcome));
            }
        }
        return history;
    }

    /**
     * The history as it stood at {@code nanos}: operations invoked later left out, writes still running then as
     * {@code UNKNOWN}, reads still running then left out.
     */
    private static List<Op> asOf(List<Op> history, long nanos) {
        return history.stream().filter(op -> op.invokeNanos() <= nanos)
                .filter(op -> op.completeNanos() <= nanos || op.kind() == Op.Kind.WRITE)
                .map(op -> op.completeNanos() <= nanos ? op : Op.write(op.client(), op.key(), op.value(),
                        op.invokeNanos(), op.completeNanos(), op.outcome() == FAILED ? FAILED : UNKNOWN))
                .toList();
    }

    private static Op write(int client, String value, long startMs, long endMs) {
        return write(client, value, startMs, endMs, OK);
    }

    private static Op write(int client, String value, long startMs, long endMs, Op.Outcome outcome) {
        return Op.write(client, "k", value, ms(startMs), ms(endMs), outcome);
    }

    private static Op read(int client, String value, long startMs, long endMs) {
        return read(client, value, startMs, endMs, OK);
    }

    private static Op read(int client, String value, long startMs, long endMs, Op.Outcome outcome) {
        return Op.read(client, "k", value, ms(startMs), ms(endMs), outcome);
    }
}
