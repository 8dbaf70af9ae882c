package io.metcd.chaos;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Checks that a recorded history of reads and writes is linearizable, each key being one register that starts
 * absent. Keys are checked one by one: linearizability is local, so a history is linearizable exactly when the
 * history of every key is. A key with compare-and-swaps or revisions in its history is checked as a register with
 * revisions and compare-and-swap ({@link CasRegister}); the others as plain registers ({@link RegisterSearch},
 * faster).
 *
 * <p>Every write of a key must write a value no other write of that key writes; the checker relies on it.
 * A search that exceeds its budget gives the distinct verdict {@link Verdict#UNKNOWN_BUDGET_EXCEEDED} instead of
 * running on: it proves nothing either way.
 */
public final class LinearizabilityChecker {
    /**
     * The default budget of a key's search, in steps: a step costs well under a microsecond and at most one
     * remembered configuration (about 100 bytes). Histories of a register with random overlaps take 2 to 30 steps
     * per operation.
     */
    public static final long DEFAULT_MAX_STEPS_PER_KEY = 1_000_000;
    /** How many operations the report of a compare-and-swap key's violation shows, up to where it fails. */
    private static final int CAS_WINDOW = 12;

    private LinearizabilityChecker() {
    }

    public enum Verdict {
        LINEARIZABLE,
        NOT_LINEARIZABLE,
        /** The search ran out of budget: whether the history is linearizable is not known. */
        UNKNOWN_BUDGET_EXCEEDED
    }

    /**
     * The verdict on one key.
     *
     * @param operations  how many operations of the key the history holds, whatever their outcome
     * @param searchSteps the steps the search over the whole key history took
     * @param window      for {@link Verdict#NOT_LINEARIZABLE}, the smallest part of the key's history found that is
     *                    already not linearizable, in invocation order; otherwise empty
     * @param report      a human-readable account: for a violation, the window with times and clients
     */
    public record KeyVerdict(String key, Verdict verdict, int operations, long searchSteps, List<Op> window,
            String report) {
    }

    /** The verdicts on every key of a history, in key order; {@link #toString()} suits a test failure message. */
    public record Result(List<KeyVerdict> keys) {
        /** Whether every key is known to be linearizable. */
        public boolean linearizable() {
            return verdict() == Verdict.LINEARIZABLE;
        }

        /** A violation on any key decides; otherwise an unknown key makes the whole unknown. */
        public Verdict verdict() {
            Set<Verdict> verdicts = keys.stream().map(KeyVerdict::verdict).collect(Collectors.toSet());
            return verdicts.contains(Verdict.NOT_LINEARIZABLE) ? Verdict.NOT_LINEARIZABLE
                    : verdicts.contains(Verdict.UNKNOWN_BUDGET_EXCEEDED) ? Verdict.UNKNOWN_BUDGET_EXCEEDED
                    : Verdict.LINEARIZABLE;
        }

        @Override
        public String toString() {
            long failing = keys.stream().filter(k -> k.verdict() != Verdict.LINEARIZABLE).count();
            String summary = switch (verdict()) {
                case LINEARIZABLE -> "linearizable: all " + keys.size() + " keys";
                case NOT_LINEARIZABLE -> "NOT linearizable: " + failing + " of " + keys.size() + " keys fail";
                case UNKNOWN_BUDGET_EXCEEDED ->
                        "unknown (budget exceeded) on " + failing + " of " + keys.size() + " keys";
            };
            return keys.stream().map(KeyVerdict::report).collect(Collectors.joining("\n", summary + "\n", ""));
        }
    }

    /** Checks every key with {@link #DEFAULT_MAX_STEPS_PER_KEY}. */
    public static Result check(List<Op> history) {
        return check(history, DEFAULT_MAX_STEPS_PER_KEY);
    }

    /**
     * @param maxStepsPerKey the budget of each key's search; finding the smallest window of a violation takes a few
     *                       more searches, each within the same budget
     * @throws IllegalArgumentException if two writes of one key write the same value
     */
    public static Result check(List<Op> history, long maxStepsPerKey) {
        Map<String, List<Op>> byKey = history.stream()
                .collect(Collectors.groupingBy(Op::key, TreeMap::new, Collectors.toList()));
        long origin = history.stream().mapToLong(Op::invokeNanos).min().orElse(0);
        List<KeyVerdict> verdicts = new ArrayList<>();
        byKey.forEach((key, ops) -> verdicts.add(checkKey(key, ops, maxStepsPerKey, origin)));
        return new Result(List.copyOf(verdicts));
    }

    private static KeyVerdict checkKey(String key, List<Op> ops, long maxSteps, long originNanos) {
        requireUniqueWrites(key, ops);
        boolean withRevisions = ops.stream()
                .anyMatch(op -> op.kind() == Op.Kind.CAS || op.revision() != Op.NO_REVISION);
        RegisterSearch.Outcome outcome = withRevisions ? CasRegister.check(ops, maxSteps)
                : RegisterSearch.run(RegisterHistory.of(ops), maxSteps);
        return switch (outcome.verdict()) {
            case LINEARIZABLE -> new KeyVerdict(key, outcome.verdict(), ops.size(), outcome.steps(), List.of(),
                    "key \"" + key + "\": linearizable (" + ops.size() + " operations, " + outcome.steps()
                            + " search steps)");
            case UNKNOWN_BUDGET_EXCEEDED -> new KeyVerdict(key, outcome.verdict(), ops.size(), outcome.steps(),
                    List.of(), "key \"" + key + "\": unknown (budget exceeded): no verdict within " + maxSteps
                            + " search steps over " + ops.size() + " operations");
            case NOT_LINEARIZABLE -> {
                if (withRevisions) {
                    List<Op> window = CasRegister.window(ops, maxSteps, CAS_WINDOW);
                    yield new KeyVerdict(key, outcome.verdict(), ops.size(), outcome.steps(), window,
                            CasRegister.describe(key, window, ops.size(), originNanos));
                }
                ViolationWindow window = ViolationWindow.find(ops, maxSteps);
                yield new KeyVerdict(key, outcome.verdict(), ops.size(), outcome.steps(), window.ops(),
                        window.describe(key, ops.size(), originNanos));
            }
        };
    }

    private static void requireUniqueWrites(String key, List<Op> ops) {
        Set<String> written = new HashSet<>();
        for (Op op : ops) {
            if (op.writes() && !written.add(op.value())) {
                throw new IllegalArgumentException("key \"" + key + "\": the value \"" + op.value()
                        + "\" is written twice; the checker needs every write of a key to write a new value");
            }
        }
    }
}
