package io.metcd.chaos;

import io.metcd.chaos.LinearizabilityChecker.Verdict;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;

/**
 * Decides whether one register's history is linearizable, by Wing and Gong's search as Lowe refined it (the
 * algorithm of Knossos and Porcupine).
 *
 * <p>The invocations and completions of the operations form one list in time order. The search walks it from
 * the front: at an invocation it may linearize that operation next, removing it from the list and starting
 * again from the front; at a completion it has met an operation that must already have taken effect but was not
 * linearized, so it undoes the latest choice and tries the next operation after it instead. The history is
 * linearizable when the list empties, and not when there is no choice left to undo. Every configuration reached
 * (the set of operations linearized and the register's value) is remembered, so none is explored twice.
 *
 * <p>The operations the search may linearize next are those invoked before the first completion in the list:
 * each of them may go before any operation not linearized yet. Since every value is written once, some of them
 * are safe: if the current configuration can be completed at all, it can be completed with a safe operation
 * next, so the search takes it without trying the others, and undoing it undoes the configuration too.
 * <ul>
 * <li>A read of the current value is safe: in any completion, the operations before it keep the value (it
 *     cannot come back once overwritten), so they are reads of it too, and it can go first.
 * <li>A write whose value nobody reads is safe once no read of the current value is left: in any completion,
 *     what goes before it is nothing or begins with a write, which overwrites the value it wrote unseen.
 * </ul>
 * And no write may go while a read of the current value is left, since that read could never be linearized.
 * What is left to search is the order of the writes whose values were read.
 *
 * <p>At equal times an invocation sorts before a completion: operations that touch count as concurrent, since
 * the clocks of two client threads cannot order them.
 */
final class RegisterSearch {
    private static final int NONE = -1;

    /** What a search concluded, and how many steps it took. */
    record Outcome(Verdict verdict, long steps) {
    }

    private final RegisterHistory history;
    private final long maxSteps;
    /** The event list, doubly linked: event {@code 2i} is operation i's invocation, {@code 2i+1} its completion. */
    private final int[] next;
    private final int[] previous;
    private final int head;
    private final LinearizedSet linearized;
    private final Set<Configuration> explored = new HashSet<>();
    /** For each value, how many of its reads are not linearized yet. */
    private final int[] readsLeft;
    /** The choices made, latest last: the operation, the state before it, and whether it was safe. */
    private final int[] chosenOp;
    private final int[] stateBefore;
    private final boolean[] safe;
    private int depth;
    private int state = RegisterHistory.ABSENT;
    private long steps;

    private RegisterSearch(RegisterHistory history, long maxSteps) {
        this.history = history;
        this.maxSteps = maxSteps;
        int n = history.size();
        this.head = 2 * n;
        this.next = new int[2 * n + 1];
        this.previous = new int[2 * n + 1];
        this.linearized = new LinearizedSet(n);
        this.readsLeft = new int[history.values()];
        this.chosenOp = new int[n];
        this.stateBefore = new int[n];
        this.safe = new boolean[n];
        for (int op = 0; op < n; op++) {
            if (!history.isWrite(op)) {
                readsLeft[history.value(op)]++;
            }
        }
        link(timeOrder());
    }

    /**
     * @param maxSteps the budget: a step is one look at an event of the list; past it the verdict is
     *                 {@link Verdict#UNKNOWN_BUDGET_EXCEEDED}. It also bounds the memory, one configuration a step.
     */
    static Outcome run(RegisterHistory history, long maxSteps) {
        if (history.readsAValueNeverWritten()) {
            return new Outcome(Verdict.NOT_LINEARIZABLE, 0);
        }
        RegisterSearch search = new RegisterSearch(history, maxSteps);
        try {
            return new Outcome(search.search(), search.steps);
        } catch (BudgetExceeded e) {
            return new Outcome(Verdict.UNKNOWN_BUDGET_EXCEEDED, maxSteps);
        }
    }

    private Verdict search() {
        boolean arrived = true; // at a configuration not looked at yet
        int event = NONE;
        while (next[head] != NONE) {
            if (arrived) {
                int safeOp = firstSafeCandidate();
                if (safeOp != NONE) {
                    if (!choose(safeOp, true)) {
                        // Explored before, and failed: so does this configuration.
                        arrived = false;
                        event = undo();
                        if (event == NONE) {
                            return Verdict.NOT_LINEARIZABLE;
                        }
                    }
                    continue;
                }
                arrived = false;
                event = next[head];
            }
            step();
            int op = event / 2;
            if (event % 2 == 1) {
                event = undo();
                if (event == NONE) {
                    return Verdict.NOT_LINEARIZABLE;
                }
            } else if (history.isWrite(op) && readsLeft[state] == 0 && choose(op, false)) {
                arrived = true;
            } else {
                event = next[event];
            }
        }
        return Verdict.LINEARIZABLE;
    }

    /** The first safe operation among those that may go next, or {@link #NONE}. */
    private int firstSafeCandidate() {
        for (int event = next[head]; event % 2 == 0; event = next[event]) {
            step();
            int op = event / 2;
            boolean isSafe = history.isWrite(op)
                    ? history.value(op) == RegisterHistory.UNREAD && readsLeft[state] == 0
                    : history.value(op) == state;
            if (isSafe) {
                return op;
            }
        }
        return NONE;
    }

    private void step() {
        if (++steps > maxSteps) {
            throw new BudgetExceeded();
        }
    }

    /** Linearizes {@code op} next, unless that reaches a configuration explored before. */
    private boolean choose(int op, boolean isSafe) {
        linearized.add(op);
        int after = history.isWrite(op) ? history.value(op) : state;
        if (!explored.add(new Configuration(after, linearized.snapshot()))) {
            linearized.remove(op);
            return false;
        }
        chosenOp[depth] = op;
        stateBefore[depth] = state;
        safe[depth] = isSafe;
        depth++;
        state = after;
        if (!history.isWrite(op)) {
            readsLeft[history.value(op)]--;
        }
        unlink(op);
        return true;
    }

    /**
     * Undoes the latest choice, and the safe ones before it, whose configurations fail with it.
     *
     * @return the event after the invocation of the operation undone last, where the search goes on; {@link #NONE}
     *         if there was nothing left to undo
     */
    private int undo() {
        int op;
        do {
            if (depth == 0) {
                return NONE;
            }
            depth--;
            op = chosenOp[depth];
            state = stateBefore[depth];
            linearized.remove(op);
            if (!history.isWrite(op)) {
                readsLeft[history.value(op)]++;
            }
            relink(op);
        } while (safe[depth]);
        return next[2 * op];
    }

    /** The events in time order, invocations before completions at equal times, then by operation. */
    private int[] timeOrder() {
        Integer[] events = new Integer[2 * history.size()];
        for (int e = 0; e < events.length; e++) {
            events[e] = e;
        }
        Arrays.sort(events, Comparator.<Integer>comparingLong(this::time).thenComparingInt(event -> event % 2)
                .thenComparingInt(event -> event));
        return Arrays.stream(events).mapToInt(Integer::intValue).toArray();
    }

    private long time(int event) {
        int op = event / 2;
        return event % 2 == 0 ? history.invoke(op) : history.complete(op);
    }

    private void link(int[] order) {
        int last = head;
        for (int event : order) {
            next[last] = event;
            previous[event] = last;
            last = event;
        }
        next[last] = NONE;
    }

    /** Removes both events of {@code op}; {@link #relink} undoes it, the latest removal first. */
    private void unlink(int op) {
        remove(2 * op);
        remove(2 * op + 1);
    }

    private void relink(int op) {
        restore(2 * op + 1);
        restore(2 * op);
    }

    private void remove(int event) {
        next[previous[event]] = next[event];
        if (next[event] != NONE) {
            previous[next[event]] = previous[event];
        }
    }

    /** Puts back an event removed last among those still out: its own links still name its neighbours. */
    private void restore(int event) {
        next[previous[event]] = event;
        if (next[event] != NONE) {
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
