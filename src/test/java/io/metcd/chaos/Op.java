package io.metcd.chaos;

import java.util.Objects;

/**
 * One client operation on one key, as a test client recorded it: what it asked, what it was told, and when
 * (from {@link System#nanoTime()} of one JVM, so that times of different clients compare).
 *
 * <p>Three kinds: a read, a write, and a compare-and-swap ({@link Kind#CAS}: write {@code value} only if the key's
 * last change has revision {@code expectedRevision}, or only if the key is absent when that is {@link #ABSENT}). A
 * CAS that the store refused ({@code 412}) changed nothing: it is recorded {@code FAILED}.
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
 * @param value            for a write or a CAS, the value written, unique among the writes of the key over the
 *                         run; for an {@code OK} read, the value read, or {@code null} when the key was absent;
 *                         ignored for a read that is not {@code OK}
 * @param invokeNanos      just before the request was sent
 * @param completeNanos    just after the answer (or the error) arrived; not before {@code invokeNanos}
 * @param revision         the key's revision as the answer gave it (its ETag): for a read, that of the value read;
 *                         for a write or CAS, the one it made; {@link #NO_REVISION} when the answer gave none
 * @param expectedRevision for a CAS, the revision it requires, {@link #ABSENT} for a key that must be absent;
 *                         {@link #NO_REVISION} for the other kinds
 */
public record Op(int client, String key, Kind kind, String value, long invokeNanos, long completeNanos,
        Outcome outcome, long revision, long expectedRevision) {

    /** The revision a CAS expects of a key that must be absent ({@code If-None-Match: *}). */
    public static final long ABSENT = 0;
    /** No revision known. */
    public static final long NO_REVISION = -1;

    public enum Kind { WRITE, READ, CAS }

    public enum Outcome { OK, FAILED, UNKNOWN }

    public Op {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(outcome, "outcome");
        if (kind != Kind.READ && value == null) {
            throw new IllegalArgumentException("a write needs a value: " + key);
        }
        if ((kind == Kind.CAS) != (expectedRevision != NO_REVISION)) {
            throw new IllegalArgumentException("a CAS, and only a CAS, expects a revision: " + key);
        }
        if (completeNanos < invokeNanos) {
            throw new IllegalArgumentException(
                    "completes before it is invoked: " + invokeNanos + " > " + completeNanos);
        }
    }

    /** An operation without revisions: a read or a write. */
    public Op(int client, String key, Kind kind, String value, long invokeNanos, long completeNanos,
            Outcome outcome) {
        this(client, key, kind, value, invokeNanos, completeNanos, outcome, NO_REVISION, NO_REVISION);
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

    /** A read that the answer dated: {@code revision} is the ETag of the value read. */
    public static Op read(int client, String key, String value, long revision, long invokeNanos,
            long completeNanos, Outcome outcome) {
        return new Op(client, key, Kind.READ, value, invokeNanos, completeNanos, outcome, revision, NO_REVISION);
    }

    /** A write that the answer dated: {@code revision} is the one it made. */
    public static Op write(int client, String key, String value, long revision, long invokeNanos,
            long completeNanos, Outcome outcome) {
        return new Op(client, key, Kind.WRITE, value, invokeNanos, completeNanos, outcome, revision, NO_REVISION);
    }

    /**
     * @param expectedRevision the revision required, {@link #ABSENT} for a key that must be absent
     * @param revision         the one it made, {@link #NO_REVISION} if not known
     */
    public static Op cas(int client, String key, long expectedRevision, String value, long revision,
            long invokeNanos, long completeNanos, Outcome outcome) {
        return new Op(client, key, Kind.CAS, value, invokeNanos, completeNanos, outcome, revision, expectedRevision);
    }

    /** Whether it writes {@link #value}, when it takes effect: a write or a CAS. */
    public boolean writes() {
        return kind != Kind.READ;
    }
}
