package io.metcd.chaos;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The acknowledged writes that the healed cluster's final state cannot account for: the final value of their
 * key is absent, or was written by an acknowledged write that had completed before they were even sent (so
 * they should have overwritten it). A count the reader can check by eye, beside the checker's full verdict.
 */
final class LostWrites {
    private LostWrites() {
    }

    /** @param history every operation of a run, the final reads (clients from {@link ChaosRun#FINAL_READER}) included */
    static List<Op> of(List<Op> history) {
        Map<String, Op> writesByValue = history.stream().filter(Op::writes)
                .collect(Collectors.toMap(Op::value, Function.identity()));
        Map<String, Op> finalReads = history.stream()
                .filter(op -> op.client() >= ChaosRun.FINAL_READER && op.kind() == Op.Kind.READ
                        && op.outcome() == Op.Outcome.OK)
                .collect(Collectors.toMap(Op::key, Function.identity(), (a, b) -> b));
        return history.stream()
                .filter(op -> op.writes() && op.outcome() == Op.Outcome.OK)
                .filter(op -> finalReads.containsKey(op.key()))
                .filter(op -> {
                    String finalValue = finalReads.get(op.key()).value();
                    if (finalValue == null) {
                        return true;
                    }
                    Op survivor = writesByValue.get(finalValue);
                    return survivor != null && survivor.outcome() == Op.Outcome.OK
                            && survivor.completeNanos() < op.invokeNanos();
                })
                .toList();
    }
}
