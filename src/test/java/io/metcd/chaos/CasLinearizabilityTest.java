package io.metcd.chaos;

import io.metcd.chaos.LinearizabilityChecker.KeyVerdict;
import io.metcd.chaos.LinearizabilityChecker.Result;
import io.metcd.chaos.LinearizabilityChecker.Verdict;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;

import static io.metcd.chaos.Op.Outcome.FAILED;
import static io.metcd.chaos.Op.Outcome.OK;
import static io.metcd.chaos.Op.Outcome.UNKNOWN;
import static io.metcd.chaos.CheckerAssertions.assertLinearizable;
import static io.metcd.chaos.CheckerAssertions.assertNotLinearizable;
import static io.metcd.chaos.CheckerAssertions.check;
import static io.metcd.chaos.CheckerAssertions.ms;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the checker accepts and rejects of a register with revisions and compare-and-swap ({@link CasRegister}).
 * Histories are on key {@code "k"}, times in milliseconds; {@code cas(client, 5, "b", 7, ...)} expects revision 5
 * and made revision 7, {@code read(client, "a", 5, ...)} read value "a" at revision 5.
 */
class CasLinearizabilityTest {
    private static final long NONE = Op.NO_REVISION;

    @Test
    void aSequenceOfReadsAndCasesEachOnTheRevisionJustReadIsLinearizable() {
        assertLinearizable(
                read(1, null, NONE, 0, 1),
                cas(1, Op.ABSENT, "a", 5, 2, 3, OK),
                read(2, "a", 5, 4, 5),
                cas(2, 5, "b", 7, 6, 7, OK),
                read(1, "b", 7, 8, 9));
    }

    @Test
    void twoCasesOnTheSameRevisionCannotBothApply() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                read(3, "a", 5, 2, 3),
                cas(2, 5, "b", 7, 4, 10, OK),
                cas(3, 5, "c", 8, 4, 10, OK));
    }

    @Test
    void ofTwoConcurrentCasesOnTheSameRevisionOneAppliesAndTheOtherIsRefused() {
        assertLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                read(3, "a", 5, 2, 3),
                cas(2, 5, "b", 7, 4, 10, OK),
                cas(3, 5, "c", NONE, 4, 10, FAILED),
                read(1, "b", 7, 11, 12));
    }

    @Test
    void aCasOnARevisionOverwrittenBeforeItBeganIsRejected() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                write(1, "b", 6, 4, 5, OK),
                cas(2, 5, "c", 9, 6, 7, OK));
    }

    @Test
    void aCreateOfAKeyThatExistsIsRejected() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                cas(2, Op.ABSENT, "b", 6, 2, 3, OK));
    }

    @Test
    void aRefusedCasIsANoOpWhoseValueNobodyMayRead() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                cas(2, 4, "b", NONE, 2, 3, FAILED),
                read(3, "b", NONE, 4, 5));
    }

    @Test
    void aCasWithoutAnswerThatShowsUpLaterIsAccepted() {
        assertLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                cas(2, 5, "b", NONE, 4, 5, UNKNOWN),
                read(3, "a", 5, 6, 7),
                read(3, "b", 9, 50, 51));
    }

    @Test
    void aCasWithoutAnswerThatNeverShowsUpIsAccepted() {
        assertLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                cas(2, 5, "b", NONE, 4, 5, UNKNOWN),
                read(3, "a", 5, 60, 61));
    }

    @Test
    void aCasWithoutAnswerCannotApplyOnARevisionOverwrittenBeforeItBegan() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                write(1, "b", 6, 4, 5, OK),
                cas(2, 5, "c", NONE, 6, 7, UNKNOWN),
                read(3, "c", 10, 50, 51));
    }

    @Test
    void revisionsMustGrowInTheOrderOfTheChanges() {
        assertNotLinearizable(
                write(1, "a", 7, 0, 1, OK),
                write(1, "b", 5, 2, 3, OK));
        assertLinearizable(
                write(1, "a", 7, 0, 10, OK),
                write(2, "b", 5, 0, 10, OK),
                read(3, "a", 7, 11, 12));
    }

    @Test
    void revisionsMustGrowPastAChangeWhoseRevisionIsNotKnown() {
        assertNotLinearizable(
                write(1, "a", 7, 0, 1, OK),
                write(2, "x", NONE, 2, 3, OK),
                write(1, "b", 5, 4, 5, OK));
    }

    @Test
    void oneRevisionReportedForTwoValuesIsRejected() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 10, OK),
                write(2, "b", NONE, 0, 10, OK),
                read(3, "b", 5, 11, 12));
    }

    @Test
    void twoRevisionsReportedForOneValueAreRejected() {
        assertNotLinearizable(
                write(1, "a", 5, 0, 1, OK),
                read(3, "a", 6, 2, 3));
    }

    @Test
    void keysWithoutCasAreStillCheckedAsPlainRegisters() {
        Result result = LinearizabilityChecker.check(List.of(
                Op.write(1, "plain", "a", ms(0), ms(1), OK),
                Op.write(1, "plain", "b", ms(2), ms(3), OK),
                Op.read(2, "plain", "a", ms(4), ms(5), OK),
                write(1, "a", 5, 0, 1, OK)));

        assertThat(result.keys()).extracting(KeyVerdict::key, KeyVerdict::verdict)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("k", Verdict.LINEARIZABLE),
                        org.assertj.core.groups.Tuple.tuple("plain", Verdict.NOT_LINEARIZABLE));
    }

    @Test
    void theReportOfAViolationShowsTheCasThatCouldNotApply() {
        Result result = check(
                write(1, "a", 5, 0, 1, OK),
                read(2, "a", 5, 2, 3),
                write(1, "b", 6, 4, 5, OK),
                cas(2, 5, "c", 9, 6, 7, OK),
                read(1, "c", 9, 100, 101));

        assertThat(result.verdict()).isEqualTo(Verdict.NOT_LINEARIZABLE);
        assertThat(result.keys().getFirst().window()).anyMatch(op -> op.kind() == Op.Kind.CAS);
        assertThat(result.toString()).contains("cas").contains("\"c\"").contains("expects 5");
    }

    @Test
    void historiesOfACorrectCasRegisterAreAccepted() {
        for (long seed = 0; seed < 300; seed++) {
            List<Op> history = simulatedCasRegister(new Random(seed), 4, 60);
            Result result = LinearizabilityChecker.check(history);
            assertThat(result.verdict()).as("seed %d: %s", seed, result).isEqualTo(Verdict.LINEARIZABLE);
        }
    }

    @Test
    void aHistoryOfThousandsOfCasOperationsOnOneKeyIsCheckedInUnderASecond() {
        List<Op> history = simulatedCasRegister(new Random(42), 8, 500);
        LinearizabilityChecker.check(history); // warms up the JIT

        long start = System.nanoTime();
        Result result = LinearizabilityChecker.check(history);
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

        assertThat(result.linearizable()).as("%s", result).isTrue();
        assertThat(elapsedMillis).isLessThan(1_000);
    }

    @Test
    void agreesWithATryOfEveryOrderOnSmallRandomHistories() {
        int notLinearizable = 0;
        for (long seed = 0; seed < 20_000; seed++) {
            List<Op> history = smallRandomHistory(new Random(seed));
            boolean expected = ExhaustiveCas.linearizable(history);
            assertThat(LinearizabilityChecker.check(history).linearizable()).as("seed %d: %s", seed, history)
                    .isEqualTo(expected);
            notLinearizable += expected ? 0 : 1;
        }
        assertThat(notLinearizable).as("histories not linearizable").isBetween(2_000, 18_000);
    }

    /**
     * A correct CAS register under concurrent clients, each reading the key and then CASing on the revision read
     * (or writing, now and then); every operation takes effect at one random instant within its interval, the
     * revision counting up. Some answers are lost ({@code UNKNOWN}: the operation took effect or not, at random).
     */
    private static List<Op> simulatedCasRegister(Random random, int clients, int opsPerClient) {
        record Planned(int client, Op.Kind kind, String value, long invoke, long complete, long effect,
                boolean answered, boolean happens) {
        }
        List<Planned> planned = new ArrayList<>();
        for (int c = 1; c <= clients; c++) {
            long t = random.nextInt(5);
            for (int i = 0; i < opsPerClient; i++) {
                Op.Kind kind = i % 2 == 0 ? Op.Kind.READ : random.nextInt(5) == 0 ? Op.Kind.WRITE : Op.Kind.CAS;
                long complete = t + 1 + random.nextInt(20);
                boolean answered = random.nextInt(12) != 0;
                planned.add(new Planned(c, kind, "c" + c + "-" + i, t, complete,
                        t + random.nextLong(complete - t + 1), answered, answered || random.nextBoolean()));
                t = complete + random.nextInt(3);
            }
        }
        // Apply in effect order; each client's CAS expects the revision its previous read saw.
        List<Planned> byEffect = new ArrayList<>(planned);
        byEffect.sort((a, b) -> Long.compare(a.effect(), b.effect()));
        Map<Planned, Op> recorded = new HashMap<>();
        Map<Integer, Long> lastReadRevision = new HashMap<>();
        Map<Integer, Planned> previousOf = new HashMap<>();
        for (int i = 1; i < planned.size(); i++) {
            if (planned.get(i).client() == planned.get(i - 1).client()) {
                previousOf.put(i, planned.get(i - 1));
            }
        }
        String value = null;
        long revision = 0;
        long nextRevision = 1;
        for (Planned p : byEffect) {
            Op.Outcome answer = p.answered() ? OK : UNKNOWN;
            long expected = lastReadRevision.getOrDefault(p.client(), Op.ABSENT);
            Op op = switch (p.kind()) {
                case READ -> {
                    if (p.answered()) {
                        lastReadRevision.put(p.client(), value == null ? Op.ABSENT : revision);
                    }
                    yield read(p.client(), value, value == null ? NONE : revision, p.invoke(), p.complete(), answer);
                }
                case WRITE -> {
                    if (p.happens()) {
                        value = p.value();
                        revision = nextRevision;
                        nextRevision += 1 + random.nextInt(3);
                    }
                    yield write(p.client(), p.value(), p.answered() ? revision : NONE, p.invoke(), p.complete(),
                            answer);
                }
                case CAS -> {
                    boolean applies = p.happens() && expected == (value == null ? Op.ABSENT : revision);
                    if (applies) {
                        value = p.value();
                        revision = nextRevision;
                        nextRevision += 1 + random.nextInt(3);
                    }
                    Op.Outcome outcome = !p.answered() ? UNKNOWN : applies ? OK : FAILED;
                    yield cas(p.client(), expected, p.value(), outcome == OK ? revision : NONE, p.invoke(),
                            p.complete(), outcome);
                }
            };
            recorded.put(p, op);
        }
        // A CAS expects what its own client's read before it saw, which took effect before it (one op at a time).
        return planned.stream().map(recorded::get).toList();
    }

    /**
     * Up to 7 operations by 4 clients in 20 ms, some not OK: writes and CASes of fresh values with revisions from a
     * small range or none, reads of written values (or absent, or garbage) with their revisions, CASes expecting
     * one of those.
     */
    private static List<Op> smallRandomHistory(Random random) {
        List<Op> history = new ArrayList<>();
        List<String> values = new ArrayList<>();
        Map<String, Long> revisions = new HashMap<>();
        int size = 1 + random.nextInt(7);
        for (int i = 0; i < size; i++) {
            long start = random.nextInt(20);
            long end = start + random.nextInt(8);
            Op.Outcome outcome = random.nextInt(10) < 7 ? OK : random.nextBoolean() ? FAILED : UNKNOWN;
            int client = i % 4;
            int kind = random.nextInt(3);
            long revision = random.nextInt(3) == 0 ? NONE : 1 + random.nextInt(6);
            if (kind == 0 || values.isEmpty() && kind == 2 && random.nextBoolean()) {
                String value = "v" + i;
                values.add(value);
                revisions.put(value, revision);
                history.add(write(client, value, outcome == OK ? revision : NONE, start, end, outcome));
            } else if (kind == 1) {
                int pick = random.nextInt(values.size() + 2);
                String value = pick < values.size() ? values.get(pick) : pick == values.size() ? null : "nobody's";
                long seen = value == null ? NONE : revisions.getOrDefault(value, NONE);
                history.add(read(client, value, random.nextInt(8) == 0 ? 1 + random.nextInt(6) : seen, start, end,
                        outcome));
            } else {
                String value = "v" + i;
                int pick = random.nextInt(values.size() + 1);
                long expected = pick == values.size() ? Op.ABSENT : revisions.get(values.get(pick));
                if (expected == NONE) {
                    expected = 1 + random.nextInt(6);
                }
                values.add(value);
                revisions.put(value, revision);
                history.add(cas(client, expected, value, outcome == OK ? revision : NONE, start, end, outcome));
            }
        }
        return history;
    }

    /**
     * The CAS register's linearizability straight from the definition, for a handful of operations: some of the
     * writes and CASes without answer and all {@code OK} operations, in some order that respects real time, each
     * acting on the register as {@link CasRegister} says. Revisions are those reported (a value's revision is what
     * any answer said of it, one per value and one value per revision, or none): a CAS applies when the current
     * value has the revision it expects, and each change with a known revision must exceed the last one known.
     */
    private static final class ExhaustiveCas {
        private final List<Op> ops = new ArrayList<>();
        private final Map<String, Long> revisionOf = new HashMap<>();

        static boolean linearizable(List<Op> history) {
            ExhaustiveCas search = new ExhaustiveCas();
            Map<Long, String> valueOf = new HashMap<>();
            for (Op op : history) {
                if (op.outcome() == OK && op.value() != null && op.revision() > 0) {
                    Long r = search.revisionOf.putIfAbsent(op.value(), op.revision());
                    String v = valueOf.putIfAbsent(op.revision(), op.value());
                    if (r != null && r != op.revision() || v != null && !v.equals(op.value())) {
                        return false;
                    }
                }
                if (op.outcome() == OK || op.outcome() == UNKNOWN && op.writes()) {
                    search.ops.add(op);
                }
            }
            return search.extend(new boolean[search.ops.size()], null, 0);
        }

        private boolean extend(boolean[] placed, String value, long lastRevision) {
            boolean allOkPlaced = true;
            for (int i = 0; i < ops.size(); i++) {
                allOkPlaced &= placed[i] || ops.get(i).outcome() != OK;
            }
            if (allOkPlaced) {
                return true;
            }
            for (int i = 0; i < ops.size(); i++) {
                Op op = ops.get(i);
                if (placed[i] || !mayGoNext(placed, op)) {
                    continue;
                }
                long current = value == null ? Op.ABSENT : revisionOf.getOrDefault(value, NONE);
                long revision = op.writes() ? revisionOf.getOrDefault(op.value(), NONE) : NONE;
                boolean applies = switch (op.kind()) {
                    case READ -> Objects.equals(op.value(), value);
                    case WRITE -> revision < 0 || revision > lastRevision;
                    case CAS -> current != NONE && current == op.expectedRevision()
                            && (revision < 0 || revision > lastRevision);
                };
                if (applies) {
                    placed[i] = true;
                    boolean extended = extend(placed, op.writes() ? op.value() : value,
                            revision > 0 ? revision : lastRevision);
                    placed[i] = false;
                    if (extended) {
                        return true;
                    }
                }
            }
            return false;
        }

        /** No OK operation not placed yet completed before {@code op} was invoked. */
        private boolean mayGoNext(boolean[] placed, Op op) {
            for (int i = 0; i < ops.size(); i++) {
                Op other = ops.get(i);
                if (!placed[i] && other.outcome() == OK && other.completeNanos() < op.invokeNanos()) {
                    return false;
                }
            }
            return true;
        }
    }

    private static Op write(int client, String value, long revision, long startMs, long endMs, Op.Outcome outcome) {
        return Op.write(client, "k", value, revision, ms(startMs), ms(endMs), outcome);
    }

    private static Op read(int client, String value, long revision, long startMs, long endMs) {
        return read(client, value, revision, startMs, endMs, OK);
    }

    private static Op read(int client, String value, long revision, long startMs, long endMs, Op.Outcome outcome) {
        return Op.read(client, "k", value, revision, ms(startMs), ms(endMs), outcome);
    }

    private static Op cas(int client, long expected, String value, long revision, long startMs, long endMs,
            Op.Outcome outcome) {
        return Op.cas(client, "k", expected, value, revision, ms(startMs), ms(endMs), outcome);
    }
}
