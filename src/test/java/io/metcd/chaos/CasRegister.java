package io.metcd.chaos;

import io.metcd.chaos.LinearizabilityChecker.Verdict;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides whether one key's history is linearizable as a register with revisions and compare-and-swap, the model of
 * the store's conditional writes (etcd's, and Knossos's {@code cas-register} with revisions in place of values):
 * <ul>
 * <li>the key starts absent; a read returns the current value (and, when it says, that value's revision);
 * <li>a write replaces the value; a {@link Op.Kind#CAS} replaces it only if the current value has the revision it
 *     expects ({@link Op#ABSENT}: only if the key is absent), and a CAS that did not apply is recorded
 *     {@code FAILED}, a definite no-op;
 * <li>every change has a revision higher than every change before it.
 * </ul>
 * Each value is written once per key, so a value and its revision name one write: two different revisions reported
 * for one value, or one revision for two values, are violations whatever the order. A CAS can therefore expect only
 * a revision that some answer (a read's ETag, or a write's) reported, as every real client's CAS does: it expects
 * what it read.
 *
 * <p>The search is Wing and Gong's with Lowe's memo of configurations (the set linearized, the current value), as
 * in {@link RegisterSearch} but without its pruning, which holds only for plain registers. The history is simplified
 * as {@link RegisterHistory} does: {@code FAILED} operations and reads not {@code OK} are dropped; a write or CAS
 * without an answer is dropped if nothing observed its value (it may be placed last, or not at all), and otherwise
 * must take effect before the first read of its value completes, or the first CAS that expected it.
 */
final class CasRegister {
    private static final int ABSENT = 0;
    /** A value no kept write wrote, or a revision no answer reported: no state matches it. */
    private static final int NEVER = -1;
    private static final long UNKNOWN_REVISION = Op.NO_REVISION;
    private static final long NO_LIMIT = Long.MAX_VALUE;

    /** One operation kept: its kind, the value numbers it reads or writes and expects, when it may take effect. */
    private record Kept(Op op, int value, int expected, long revision, long invoke, long end) {
    }

    private final List<Kept> ops;
    private final long maxSteps;
    private long steps;

    private CasRegister(List<Kept> ops, long maxSteps) {
        this.ops = ops;
        this.maxSteps = maxSteps;
    }

    /** Whether the whole history of one key is linearizable, within {@code maxSteps} steps of the search. */
    static RegisterSearch.Outcome check(List<Op> keyOps, long maxSteps) {
        return check(keyOps, NO_LIMIT, maxSteps);
    }

    /**
     * The history as of {@code cutNanos}: what was invoked later does not exist, what completed later is still
     * running (see {@link RegisterHistory}).
     */
    static RegisterSearch.Outcome check(List<Op> keyOps, long cutNanos, long maxSteps) {
        List<Kept> kept = simplify(keyOps, cutNanos);
        if (kept == null) {
            return new RegisterSearch.Outcome(Verdict.NOT_LINEARIZABLE, 0);
        }
        CasRegister search = new CasRegister(kept, maxSteps);
        try {
            return new RegisterSearch.Outcome(search.search(), search.steps);
        } catch (BudgetExceeded e) {
            return new RegisterSearch.Outcome(Verdict.UNKNOWN_BUDGET_EXCEEDED, maxSteps);
        }
    }

    /**
     * The operations around the earliest point at which a history known not to be linearizable already fails: the
     * {@code size} latest invoked by the earliest completion whose cut fails, in invocation order.
     */
    static List<Op> window(List<Op> keyOps, long maxSteps, int size) {
        long[] completions = keyOps.stream().filter(op -> op.outcome() == Op.Outcome.OK)
                .mapToLong(Op::completeNanos).sorted().distinct().toArray();
        int passing = -1;
        int failing = completions.length - 1;
        while (failing - passing > 1) {
            int mid = passing + (failing - passing) / 2;
            if (check(keyOps, completions[mid], maxSteps).verdict() == Verdict.NOT_LINEARIZABLE) {
                failing = mid;
            } else {
                passing = mid;
            }
        }
        long cut = failing < 0 ? NO_LIMIT : completions[failing];
        List<Op> before = keyOps.stream().filter(op -> op.invokeNanos() <= cut)
                .sorted(Comparator.comparingLong(Op::invokeNanos)).toList();
        return before.subList(Math.max(0, before.size() - size), before.size());
    }

    /** The window as a table, times in ms since {@code originNanos}; the last completion in it is where it fails. */
    static String describe(String key, List<Op> window, int keyOperations, long originNanos) {
        StringBuilder out = new StringBuilder(String.format(
                "key \"%s\": NOT linearizable as a register with compare-and-swap. The %d operations invoked up to"
                        + " the earliest completion at which its history already fails, of %d (times in ms since the"
                        + " history's first invocation; rev: the revision an answer reported)%n%10s %10s %6s  %s%n",
                key, window.size(), keyOperations, "start", "end", "client", "operation"));
        for (Op op : window) {
            String what = switch (op.kind()) {
                case READ -> "read  " + quoted(op.value());
                case WRITE -> "write " + quoted(op.value());
                case CAS -> "cas   expects " + (op.expectedRevision() == Op.ABSENT ? "absent" : op.expectedRevision())
                        + " -> " + quoted(op.value());
            };
            out.append(String.format("%10.3f %10.3f %6d  %-40s %-7s%s", (op.invokeNanos() - originNanos) / 1e6,
                    (op.completeNanos() - originNanos) / 1e6, op.client(), what, op.outcome(),
                    op.revision() > 0 ? " rev " + op.revision() : "").stripTrailing()).append('\n');
        }
        return out.toString().stripTrailing();
    }

    private static String quoted(String value) {
        return value == null ? "absent" : "\"" + (value.length() > 20 ? value.substring(0, 17) + "..." : value) + "\"";
    }

    /** The operations that constrain an order, or {@code null} if revisions already contradict each other. */
    private static List<Kept> simplify(List<Op> keyOps, long cutNanos) {
        List<Op> live = keyOps.stream().filter(op -> op.invokeNanos() <= cutNanos && op.outcome() != Op.Outcome.FAILED)
                .filter(op -> op.writes() || op.outcome() == Op.Outcome.OK && op.completeNanos() <= cutNanos)
                .toList();
        Map<String, Long> revisionOf = new HashMap<>();
        Map<Long, String> valueOf = new HashMap<>();
        for (Op op : live) {
            boolean answered = op.outcome() == Op.Outcome.OK && op.completeNanos() <= cutNanos;
            if (answered && op.value() != null && op.revision() > 0) {
                Long revision = revisionOf.putIfAbsent(op.value(), op.revision());
                String value = valueOf.putIfAbsent(op.revision(), op.value());
                if (revision != null && revision != op.revision() || value != null && !value.equals(op.value())) {
                    return null;
                }
            }
        }
        // When each value must have been written at the latest: the first completion of an answer that saw it.
        Map<String, Long> firstSeen = new HashMap<>();
        for (Op op : live) {
            boolean answered = op.outcome() == Op.Outcome.OK && op.completeNanos() <= cutNanos;
            String seen = op.kind() == Op.Kind.READ ? op.value()
                    : op.kind() == Op.Kind.CAS && answered ? valueOf.get(op.expectedRevision()) : null;
            if (answered && seen != null) {
                firstSeen.merge(seen, op.completeNanos(), Math::min);
            }
        }
        List<Op> writes = live.stream().filter(Op::writes).filter(op -> op.outcome() == Op.Outcome.OK
                && op.completeNanos() <= cutNanos || firstSeen.containsKey(op.value())).toList();
        Map<String, Integer> valueIds = new HashMap<>();
        writes.forEach(op -> valueIds.put(op.value(), valueIds.size() + 1));

        List<Kept> kept = new ArrayList<>();
        for (Op op : live) {
            boolean answered = op.outcome() == Op.Outcome.OK && op.completeNanos() <= cutNanos;
            if (op.writes() && !valueIds.containsKey(op.value())) {
                continue;
            }
            int value = op.value() == null ? ABSENT : valueIds.getOrDefault(op.value(), NEVER);
            int expected = op.kind() != Op.Kind.CAS ? NEVER : op.expectedRevision() == Op.ABSENT ? ABSENT
                    : valueIds.getOrDefault(valueOf.get(op.expectedRevision()), NEVER);
            long end = Math.min(answered ? op.completeNanos() : NO_LIMIT,
                    op.writes() ? firstSeen.getOrDefault(op.value(), NO_LIMIT) : NO_LIMIT);
            long revision = op.writes() ? revisionOf.getOrDefault(op.value(), UNKNOWN_REVISION) : UNKNOWN_REVISION;
            kept.add(new Kept(op, value, expected, revision, op.invokeNanos(), Math.max(end, op.invokeNanos())));
        }
        // Numbered in invocation order, so that the search linearizes them roughly in order (see LinearizedSet).
        kept.sort(Comparator.comparingLong(Kept::invoke));
        return kept;
    }

    private Verdict search() {
        int n = ops.size();
        // The event list, doubly linked: event 2i is operation i's invocation, 2i+1 its completion; head is 2n.
        int head = 2 * n;
        int[] next = new int[2 * n + 1];
        int[] previous = new int[2 * n + 1];
        Integer[] order = new Integer[2 * n];
        for (int e = 0; e < order.length; e++) {
            order[e] = e;
        }
        // Invocations before completions at equal times: operations that touch count as concurrent.
        Arrays.sort(order, Comparator.<Integer>comparingLong(e -> e % 2 == 0 ? ops.get(e / 2).invoke()
                : ops.get(e / 2).end()).thenComparingInt(e -> e % 2).thenComparingInt(e -> e));
        int last = head;
        for (int e : order) {
            next[last] = e;
            previous[e] = last;
            last = e;
        }
        next[last] = -1;

        LinearizedSet linearized = new LinearizedSet(n);
        Set<Configuration> explored = new HashSet<>();
        int[] chosen = new int[n];
        int[] stateBefore = new int[n];
        long[] revisionBefore = new long[n];
        int depth = 0;
        int state = ABSENT;
        long lastRevision = 0;
        int event = next[head];
        while (next[head] != -1) {
            if (++steps > maxSteps) {
                throw new BudgetExceeded();
            }
            if (event % 2 == 0) {
                Kept op = ops.get(event / 2);
                if (applies(op, state, lastRevision)) {
                    linearized.add(event / 2);
                    int after = op.op().writes() ? op.value() : state;
                    if (explored.add(new Configuration(after, linearized.snapshot()))) {
                        chosen[depth] = event / 2;
                        stateBefore[depth] = state;
                        revisionBefore[depth] = lastRevision;
                        depth++;
                        state = after;
                        lastRevision = op.revision() > 0 ? op.revision() : lastRevision;
                        unlink(next, previous, event);
                        unlink(next, previous, event + 1);
                        event = next[head];
                        continue;
                    }
                    linearized.remove(event / 2);
                }
                event = next[event];
            } else {
                // A completion before its operation was linearized: undo the latest choice, try the next after it.
                if (depth == 0) {
                    return Verdict.NOT_LINEARIZABLE;
                }
                depth--;
                int op = chosen[depth];
                state = stateBefore[depth];
                lastRevision = revisionBefore[depth];
                linearized.remove(op);
                relink(next, previous, 2 * op + 1);
                relink(next, previous, 2 * op);
                event = next[2 * op];
            }
        }
        return Verdict.LINEARIZABLE;
    }

    /** Whether {@code op} can take effect now, the register holding value {@code state}. */
    private static boolean applies(Kept op, int state, long lastRevision) {
        return switch (op.op().kind()) {
            case READ -> op.value() == state;
            case WRITE -> op.revision() < 0 || op.revision() > lastRevision;
            case CAS -> op.expected() == state && (op.revision() < 0 || op.revision() > lastRevision);
        };
    }

    private static void unlink(int[] next, int[] previous, int event) {
        next[previous[event]] = next[event];
        if (next[event] != -1) {
            previous[next[event]] = previous[event];
        }
    }

    /** Puts back an event removed last among those still out: its own links still name its neighbours. */
    private static void relink(int[] next, int[] previous, int event) {
        next[previous[event]] = event;
        if (next[event] != -1) {
            previous[next[event]] = event;
        }
    }

    /** Thrown to stop a search at its budget; without a stack trace, which would say nothing. */
    private static final class BudgetExceeded extends RuntimeException {
        BudgetExceeded() {
            super(null, null, false, false);
        }
    }

    /** A point of the search: the register's value and which operations are linearized. */
    private record Configuration(int state, LinearizedSet.Snapshot linearized) {
    }
}
