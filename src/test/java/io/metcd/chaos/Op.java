package io.metcd.chaos;

import java.util.Objects;

/**
 * One client operation on one key, as a test client recorded it: what it asked, what it was told, and when
 * (from {@link System#nanoTime()} of one JVM, so that times of different clients compare).
 *
 * <p>What the outcome means to the {@link LinearizabilityChecker}:
 * <ul>
 * <li>{@link Outcome#OK}: the answer arrived; the operation took effect once, between invocation and completion.
 * <li>{@link Outcome#FAILED}: the operation certainly did not take effect (an error answer that guarantees it);
 * the checker treats it as never issued.
 * <li>{@link Outcome#UNKNOWN}: a timeout or an error after the request was sent. A write may or may not have taken
 * effect, at any time after its invocation: its recorded completion is ignored. A read carries no information.
 * </ul>
 *
 * @param client        who issued it; a client issues one operation at a time
 * @param value         for a write, the value written, unique among the writes of the key over the run; for an
 *                      {@code OK} read, the value read, or {@code null} when the key was absent; ignored for a
 *                      read that is not {@code OK}
 * @param invokeNanos   just before the request was sent
 * @param completeNanos just after the answer (or the error) arrived; not before {@code invokeNanos}
 */
public record Op(int client, String key, Kind kind, String value, long invokeNanos, long completeNanos,
        Outcome outcome) {

    public enum Kind { WRITE, READ }

    public enum Outcome { OK, FAILED, UNKNOWN }

    public Op {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(outcome, "outcome");
        if (kind == Kind.WRITE && value == null) {
            throw new IllegalArgumentException("a write needs a value: " + key);
        }
        if (completeNanos < invokeNanos) {
            throw new IllegalArgumentException(
                    "completes before it is invoked: " + invokeNanos + " > " + completeNanos);
        }
    }

    public static Op write(int client, String key, String value, long invokeNanos, long completeNanos,
            Outcome outcome) {
        return new Op(client, key, Kind.WRITE, value, invokeNanos, completeNanos, outcome);
    }

    /** @param value what was read, {@code null} for an absent key */
    public static Op read(int client, String key, String value, long invokeNanos, long completeNanos,
            Outcome outcome) {
        return new Op(client, key, Kind.READ, value, invokeNanos, completeNanos, outcome);
    }
}
