package io.metcd.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.stream.Collectors;

/**
 * The smallest part of a key's non-linearizable history found to be non-linearizable already, and its account
 * for a human.
 *
 * <p>The history is shrunk from both ends, and only in ways that cannot make a linearizable history fail, so the
 * part shown proves the violation by itself:
 * <ul>
 * <li>The end: the history as of the earliest completion at which it already fails (see {@link RegisterHistory}
 * for what a cut means). The operations that complete there are where the violation shows.
 * <li>The start: the latest start time such that leaving out the operations completed before it still fails,
 * except the writes whose values the remaining reads returned. Leaving out reads, and writes whose values no
 * remaining read returned, keeps any valid order of the rest valid, so a linearizable history stays linearizable.
 * <li>The middle: each operation that can be left out that way, and whose absence still fails, one at a time.
 * </ul>
 * Failing is monotone in both times, so each end is a binary search: about 2 log2(n) searches of parts of the
 * history; then one small search per operation of the window. A search that runs out of budget counts as not
 * failing, so the window only grows.
 */
final class ViolationWindow {
    private final List<Op> ops;
    private final long cutNanos;
    private final List<Op> keyOps;

    private ViolationWindow(List<Op> ops, long cutNanos, List<Op> keyOps) {
        this.ops = ops;
        this.cutNanos = cutNanos;
        this.keyOps = keyOps;
    }

    /** @param keyOps the whole history of one key, known not to be linearizable */
    static ViolationWindow find(List<Op> keyOps, long maxSteps) {
        long[] completions = keyOps.stream().filter(op -> op.outcome() == Op.Outcome.OK)
                .mapToLong(Op::completeNanos).sorted().distinct().toArray();
        // As of its last completion the history is the whole history (nothing invoked later can be read), which fails.
        int end = earliestFailing(completions.length - 1, i -> fails(keyOps, completions[i], maxSteps));
        long cut = completions[end];
        int start = latestFailing(0, end, i -> fails(startingAt(keyOps, completions[i], cut), cut, maxSteps));
        List<Op> window = RegisterHistory.of(startingAt(keyOps, completions[start], cut), cut).ops();
        return new ViolationWindow(withoutNeedlessOps(window, cut, maxSteps), cut, keyOps);
    }

    /** The operations of the window, in invocation order, as recorded. */
    List<Op> ops() {
        return ops;
    }

    /** The window as a table, times in ms since {@code originNanos}, with what makes a read impossible if known. */
    String describe(String key, int keyOperations, long originNanos) {
        StringBuilder out = new StringBuilder(String.format(
                "key \"%s\": NOT linearizable. Smallest failing window, %d of its %d operations: no order of them"
                        + " explains the reads by the completion marked <- (times in ms since the history's first"
                        + " invocation)\n%10s %10s %6s  %s\n",
                key, ops.size(), keyOperations, "start", "end", "client", "operation"));
        for (Op op : ops) {
            out.append(String.format("%10.3f %10.3f %6d  %-5s %-24s %-7s%s", millis(op.invokeNanos(), originNanos),
                    millis(op.completeNanos(), originNanos), op.client(), op.kind() == Op.Kind.WRITE ? "write" : "read",
                    op.value() == null ? "absent" : quoted(op.value()), op.outcome(), marker(op)).stripTrailing())
                    .append('\n');
        }
        for (Op op : ops) {
            unwrittenBecause(op).ifPresent(why -> out.append(String.format("  the read of %s by client %d: %s\n",
                    quoted(op.value()), op.client(), why)));
        }
        return out.toString().stripTrailing();
    }

    private String marker(Op op) {
        if (op.outcome() != Op.Outcome.OK) {
            return "";
        }
        if (op.completeNanos() == cutNanos) {
            return "  <- fails here";
        }
        return op.completeNanos() > cutNanos ? "  (still pending then)" : "";
    }

    /** Why no write of the key could have given {@code op} the value it read, if that is why it fails. */
    private Optional<String> unwrittenBecause(Op op) {
        if (op.kind() != Op.Kind.READ || op.value() == null) {
            return Optional.empty();
        }
        Optional<Op> write = keyOps.stream()
                .filter(w -> w.kind() == Op.Kind.WRITE && w.value().equals(op.value())).findFirst();
        if (write.isEmpty()) {
            return Optional.of("no write of this key wrote that value");
        }
        if (write.get().outcome() == Op.Outcome.FAILED) {
            return Optional.of("its only write FAILED (client " + write.get().client() + "), so it never took effect");
        }
        if (write.get().invokeNanos() > op.completeNanos()) {
            return Optional.of("its write (client " + write.get().client() + ") began only after the read completed");
        }
        return Optional.empty();
    }

    private static boolean fails(List<Op> keyOps, long cutNanos, long maxSteps) {
        return RegisterSearch.run(RegisterHistory.of(keyOps, cutNanos), maxSteps).verdict()
                == LinearizabilityChecker.Verdict.NOT_LINEARIZABLE;
    }

    /**
     * The operations that complete at or after {@code startNanos}, with the writes whose values their reads (up to
     * the cut) returned. Operations without a completion are kept too: the cut drops what they cannot tell.
     */
    private static List<Op> startingAt(List<Op> keyOps, long startNanos, long cutNanos) {
        Set<String> stillRead = readsOf(keyOps.stream().filter(op -> op.completeNanos() >= startNanos).toList(),
                cutNanos);
        return keyOps.stream().filter(op -> op.outcome() != Op.Outcome.OK || op.completeNanos() >= startNanos
                || op.kind() == Op.Kind.WRITE && stillRead.contains(op.value())).toList();
    }

    /**
     * The window without each operation that can be left out and still fails, tried from the last invoked: reads
     * first, then the writes they leave unread.
     */
    private static List<Op> withoutNeedlessOps(List<Op> window, long cutNanos, long maxSteps) {
        List<Op> kept = new ArrayList<>(window);
        for (int i = kept.size() - 1; i >= 0; i--) {
            Op op = kept.get(i);
            if (op.kind() == Op.Kind.WRITE && readsOf(kept, cutNanos).contains(op.value())) {
                continue;
            }
            List<Op> without = new ArrayList<>(kept);
            without.remove(i);
            if (fails(without, cutNanos, maxSteps)) {
                kept = without;
            }
        }
        return List.copyOf(kept);
    }

    /** The values that the reads of {@code ops} completed by the cut returned. */
    private static Set<String> readsOf(List<Op> ops, long cutNanos) {
        return ops.stream().filter(op -> op.kind() == Op.Kind.READ && op.outcome() == Op.Outcome.OK
                && op.value() != null && op.completeNanos() <= cutNanos).map(Op::value).collect(Collectors.toSet());
    }

    /** The smallest index in [0, knownFailing] that fails, given that knownFailing does and failing is monotone. */
    private static int earliestFailing(int knownFailing, IntPredicate fails) {
        int passing = -1;
        int failing = knownFailing;
        while (failing - passing > 1) {
            int mid = passing + (failing - passing) / 2;
            if (fails.test(mid)) {
                failing = mid;
            } else {
                passing = mid;
            }
        }
        return failing;
    }

    /** The largest index in [knownFailing, last] that fails, given that knownFailing does and failing is monotone. */
    private static int latestFailing(int knownFailing, int last, IntPredicate fails) {
        int failing = knownFailing;
        int passing = last + 1;
        while (passing - failing > 1) {
            int mid = failing + (passing - failing) / 2;
            if (fails.test(mid)) {
                failing = mid;
            } else {
                passing = mid;
            }
        }
        return failing;
    }

    private static double millis(long nanos, long originNanos) {
        return (nanos - originNanos) / 1e6;
    }

    /** The value in quotes, shortened if long: values may be up to 1 MiB. */
    private static String quoted(String value) {
        return "\"" + (value.length() > 20 ? value.substring(0, 17) + "..." : value) + "\"";
    }
}
