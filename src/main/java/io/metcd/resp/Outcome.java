package io.metcd.resp;

/**
 * What a trip to the store came to, as the Redis commands need to tell it apart: done with a value, not done for
 * want of a leader or quorum (the client may try again), or refused for a reason the command answers with.
 * Every future of {@link Keyspace} and {@link ClusterAdmin} completes with one of these; a future completed
 * exceptionally is a defect of the store, answered {@code -ERR internal error} and logged.
 *
 * @param <T> what a done operation gives back
 */
public sealed interface Outcome<T> {

    /** Carried out; {@code value} is {@code null} for operations that give nothing back. */
    record Done<T>(T value) implements Outcome<T> {
    }

    /**
     * Not carried out in time: no leader, no quorum, or no commit before the store's deadline. For a write the
     * reason says whether it may still be applied later. Redis clients get {@code -TRYAGAIN <reason>}.
     */
    record Unavailable<T>(String reason) implements Outcome<T> {
    }

    /** Refused where it was decided; nothing changed. {@code detail} says more where the refusal allows it. */
    record Refused<T>(Refusal refusal, String detail) implements Outcome<T> {
    }

    /** Why an operation was refused. */
    enum Refusal {
        /** The stored value is not the decimal text of a signed 64-bit integer (INCR of "abc"). */
        NOT_AN_INTEGER,
        /** The increment would take the value outside the signed 64-bit range. */
        OVERFLOW,
        /** The result would be a value over the store's limit (1 MiB), such as an APPEND past it. */
        TOO_LARGE,
        /** A cluster change that cannot be made as asked (a bad member id or URL, an unknown member...). */
        INVALID
    }

    static <T> Outcome<T> done(T value) {
        return new Done<>(value);
    }

    static <T> Outcome<T> unavailable(String reason) {
        return new Unavailable<>(reason);
    }

    static <T> Outcome<T> refused(Refusal refusal, String detail) {
        return new Refused<>(refusal, detail);
    }
}
