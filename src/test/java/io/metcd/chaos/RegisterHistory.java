package io.metcd.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The operations of one key that can constrain a linearization, as of a cut time, with values numbered and
 * each operation's interval: the input of {@link RegisterSearch}.
 *
 * <p>As of the cut, an operation invoked later does not exist yet, and one that completes later is still
 * pending: a pending write may take effect at any time after its invocation, like an {@code UNKNOWN} one, and a
 * pending read tells nothing yet. Cutting a history this way never turns a linearizable history into one that
 * is not (linearizability is prefix-closed), which lets {@link ViolationWindow} look for the earliest cut
 * that already fails.
 *
 * <p>Because every value is written at most once per key, the register can be simplified without changing
 * the answer:
 * <ul>
 * <li>{@code FAILED} operations and reads that are not {@code OK} are dropped: they did not happen or say nothing.
 * <li>A write that never completed and whose value nobody read is dropped: it can always be linearized last.
 * <li>A write's interval ends no later than the earliest completion of a read of its value, since it must take
 * effect before that read. This bounds writes that never completed, which would otherwise overlap everything
 * after them and make the search exponential.
 * <li>The writes whose values nobody read share one value number, {@link #UNREAD}: nothing tells the states after
 * them apart, so the search need not either.
 * </ul>
 */
final class RegisterHistory {
    /** The state (and read value) of an absent key, the initial state of every register. */
    static final int ABSENT = 0;
    /** The value of every write whose value no read returned. */
    static final int UNREAD = 1;
    /** A value read that no kept write wrote: no state ever matches it. */
    static final int NEVER_WRITTEN = -1;
    private static final int FIRST_READ_VALUE = 2;
    private static final long NEVER = Long.MAX_VALUE;

    private final List<Op> ops;
    private final boolean[] isWrite;
    private final int[] value;
    private final long[] invoke;
    private final long[] complete;
    private final int values;

    private RegisterHistory(List<Op> ops, boolean[] isWrite, int[] value, long[] invoke, long[] complete,
            int values) {
        this.ops = ops;
        this.isWrite = isWrite;
        this.value = value;
        this.invoke = invoke;
        this.complete = complete;
        this.values = values;
    }

    /** The whole history of one key. */
    static RegisterHistory of(List<Op> keyOps) {
        return of(keyOps, NEVER);
    }

    /** The history of one key as it stood at {@code cutNanos}. */
    static RegisterHistory of(List<Op> keyOps, long cutNanos) {
        List<Op> writes = new ArrayList<>();
        List<Op> reads = new ArrayList<>();
        for (Op op : keyOps) {
            if (op.invokeNanos() > cutNanos || op.outcome() == Op.Outcome.FAILED) {
                continue;
            }
            if (op.kind() == Op.Kind.WRITE) {
                writes.add(op);
            } else if (op.outcome() == Op.Outcome.OK && op.completeNanos() <= cutNanos) {
                reads.add(op);
            }
        }
        Map<String, Long> earliestReadOf = new HashMap<>();
        for (Op read : reads) {
            if (read.value() != null) {
                earliestReadOf.merge(read.value(), read.completeNanos(), Math::min);
            }
        }

        List<Interval> kept = new ArrayList<>();
        for (Op write : writes) {
            boolean completed = write.outcome() == Op.Outcome.OK && write.completeNanos() <= cutNanos;
            Long firstRead = earliestReadOf.get(write.value());
            if (!completed && firstRead == null) {
                continue;
            }
            long end = Math.min(completed ? write.completeNanos() : NEVER, firstRead == null ? NEVER : firstRead);
            // A read that completed before the write began cannot be linearized anyway; the search finds that.
            kept.add(new Interval(write, Math.max(end, write.invokeNanos())));
        }
        Map<String, Integer> valueIds = new HashMap<>();
        for (Interval write : kept) {
            if (earliestReadOf.containsKey(write.op.value())) {
                valueIds.put(write.op.value(), FIRST_READ_VALUE + valueIds.size());
            }
        }
        for (Op read : reads) {
            kept.add(new Interval(read, read.completeNanos()));
        }
        // Numbered in invocation order, so that the search linearizes them roughly in order (see LinearizedSet).
        kept.sort(Comparator.comparingLong(interval -> interval.op.invokeNanos()));

        int n = kept.size();
        boolean[] isWrite = new boolean[n];
        int[] value = new int[n];
        long[] invoke = new long[n];
        long[] complete = new long[n];
        for (int i = 0; i < n; i++) {
            Op op = kept.get(i).op;
            isWrite[i] = op.kind() == Op.Kind.WRITE;
            value[i] = op.value() == null ? ABSENT
                    : valueIds.getOrDefault(op.value(), isWrite[i] ? UNREAD : NEVER_WRITTEN);
            invoke[i] = op.invokeNanos();
            complete[i] = kept.get(i).end;
        }
        return new RegisterHistory(kept.stream().map(Interval::op).toList(), isWrite, value, invoke, complete,
                FIRST_READ_VALUE + valueIds.size());
    }

    /** An operation kept, and the latest time it can take effect. */
    private record Interval(Op op, long end) {
    }

    int size() {
        return ops.size();
    }

    /** The kept operations, as recorded, numbered as the other accessors number them. */
    List<Op> ops() {
        return ops;
    }

    boolean isWrite(int i) {
        return isWrite[i];
    }

    /**
     * The value written or read, as a number: {@link #ABSENT}, {@link #UNREAD}, {@link #NEVER_WRITTEN}, or one of
     * its own for each value both written and read, below {@link #values()}.
     */
    int value(int i) {
        return value[i];
    }

    /** How many value numbers there are, not counting {@link #NEVER_WRITTEN}. */
    int values() {
        return values;
    }

    long invoke(int i) {
        return invoke[i];
    }

    /** The latest time the operation can take effect: {@link Long#MAX_VALUE} if unbounded. */
    long complete(int i) {
        return complete[i];
    }

    /** Whether some read returned a value that no kept write wrote, which no order of the operations explains. */
    boolean readsAValueNeverWritten() {
        for (int v : value) {
            if (v == NEVER_WRITTEN) {
                return true;
            }
        }
        return false;
    }
}
