package io.metcd.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Linearizability of one register's small history straight from the definition, as a reference for the
 * checker: some of the {@code UNKNOWN} writes and all the {@code OK} operations, in some order that respects
 * real time (one operation precedes another if it completed before the other was invoked; an {@code UNKNOWN}
 * write never completed), where every read returns the value of the latest write before it, or absent. Tries
 * every such order: only for a handful of operations.
 */
final class ExhaustiveSearch {
    private final List<Op> ops = new ArrayList<>();

    private ExhaustiveSearch(List<Op> keyOps) {
        for (Op op : keyOps) {
            if (op.outcome() == Op.Outcome.OK || op.outcome() == Op.Outcome.UNKNOWN && op.kind() == Op.Kind.WRITE) {
                ops.add(op);
            }
        }
    }

    static boolean linearizable(List<Op> keyOps) {
        ExhaustiveSearch search = new ExhaustiveSearch(keyOps);
        return search.extend(new boolean[search.ops.size()], null);
    }

    /** Whether the operations not placed yet can follow those placed, the register holding {@code value}. */
    private boolean extend(boolean[] placed, String value) {
        if (onlyUnknownWritesLeft(placed)) {
            return true;
        }
        for (int i = 0; i < ops.size(); i++) {
            Op op = ops.get(i);
            if (placed[i] || !mayGoNext(op, placed)) {
                continue;
            }
            if (op.kind() == Op.Kind.READ && !Objects.equals(op.value(), value)) {
                continue;
            }
            placed[i] = true;
            boolean extended = extend(placed, op.kind() == Op.Kind.WRITE ? op.value() : value);
            placed[i] = false;
            if (extended) {
                return true;
            }
        }
        return false;
    }

    /** Whether no operation left has to precede {@code op}. */
    private boolean mayGoNext(Op op, boolean[] placed) {
        for (int j = 0; j < ops.size(); j++) {
            Op other = ops.get(j);
            if (!placed[j] && other.outcome() == Op.Outcome.OK && other.completeNanos() < op.invokeNanos()) {
                return false;
            }
        }
        return true;
    }

    private boolean onlyUnknownWritesLeft(boolean[] placed) {
        for (int i = 0; i < ops.size(); i++) {
            if (!placed[i] && ops.get(i).outcome() == Op.Outcome.OK) {
                return false;
            }
        }
        return true;
    }
}
