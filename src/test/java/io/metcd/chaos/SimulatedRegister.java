package io.metcd.chaos;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * Histories of one key as a correct atomic register produces them, for testing the checker: concurrent clients
 * issue one operation at a time, and each operation takes effect at one random instant within its interval. A
 * write whose outcome is {@code UNKNOWN} takes effect or not, possibly after its client gave up; a {@code FAILED}
 * one never does. Every history made is therefore linearizable.
 */
final class SimulatedRegister {
    private static final long MICROS = 1_000;
    private final Random random;
    private final String key;

    /** A mutable operation being simulated, with the instant it takes effect ({@code -1}: never). */
    private static final class Draft {
        final int client;
        final Op.Kind kind;
        final long invoke;
        final long complete;
        final Op.Outcome outcome;
        final long effectAt;
        String value;

        Draft(int client, Op.Kind kind, String value, long invoke, long complete, Op.Outcome outcome, long effectAt) {
            this.client = client;
            this.kind = kind;
            this.value = value;
            this.invoke = invoke;
            this.complete = complete;
            this.outcome = outcome;
            this.effectAt = effectAt;
        }
    }

    SimulatedRegister(Random random, String key) {
        this.random = random;
        this.key = key;
    }

    /**
     * @param writeShare the share of operations that are writes, from 0 to 1
     * @return the history, in no particular order
     */
    List<Op> history(int clients, int opsPerClient, double writeShare) {
        List<Draft> drafts = new ArrayList<>();
        for (int client = 0; client < clients; client++) {
            long time = randomMicros(0, 2_000);
            for (int i = 0; i < opsPerClient; i++) {
                long invoke = time + randomMicros(0, 1_000);
                // Now and then an operation takes long, as one held up by a paused or partitioned node.
                long complete = invoke
                        + (random.nextInt(20) == 0 ? randomMicros(5_000, 30_000) : randomMicros(50, 3_000));
                drafts.add(random.nextDouble() < writeShare
                        ? write(client, key + "-c" + client + "-" + i, invoke, complete)
                        : read(client, invoke, complete));
                time = complete;
            }
        }
        runInEffectOrder(drafts);
        return drafts.stream()
                .map(d -> new Op(d.client, key, d.kind, d.value, d.invoke, d.complete, d.outcome)).toList();
    }

    private Draft write(int client, String value, long invoke, long complete) {
        int roll = random.nextInt(10);
        if (roll == 0) {
            return new Draft(client, Op.Kind.WRITE, value, invoke, complete, Op.Outcome.FAILED, -1);
        }
        if (roll == 1) {
            long effect = random.nextBoolean() ? -1 : within(invoke, complete + 20_000 * MICROS);
            return new Draft(client, Op.Kind.WRITE, value, invoke, complete, Op.Outcome.UNKNOWN, effect);
        }
        return new Draft(client, Op.Kind.WRITE, value, invoke, complete, Op.Outcome.OK, within(invoke, complete));
    }

    /** A read that is not {@code OK} carries a value nobody wrote: the checker must ignore it. */
    private Draft read(int client, long invoke, long complete) {
        int roll = random.nextInt(20);
        Op.Outcome outcome = roll == 0 ? Op.Outcome.FAILED : roll == 1 ? Op.Outcome.UNKNOWN : Op.Outcome.OK;
        return outcome == Op.Outcome.OK
                ? new Draft(client, Op.Kind.READ, null, invoke, complete, outcome, within(invoke, complete))
                : new Draft(client, Op.Kind.READ, "garbage", invoke, complete, outcome, -1);
    }

    /** Applies the operations that take effect to one register, in the order of their instants; reads see it. */
    private static void runInEffectOrder(List<Draft> drafts) {
        String register = null;
        List<Draft> inEffectOrder = drafts.stream().filter(d -> d.effectAt >= 0)
                .sorted(Comparator.comparingLong(d -> d.effectAt)).toList();
        for (Draft d : inEffectOrder) {
            if (d.kind == Op.Kind.WRITE) {
                register = d.value;
            } else {
                d.value = register;
            }
        }
    }

    private long within(long from, long to) {
        return from + (long) (random.nextDouble() * (to - from));
    }

    private long randomMicros(long fromMicros, long toMicros) {
        return (fromMicros + (long) (random.nextDouble() * (toMicros - fromMicros))) * MICROS;
    }
}
