package io.metcd.model;

/**
 * What applying a {@link Command} came to, the same on every node that applies it. It reaches the client on the path
 * its write took: the node that proposed it applies it and answers; the leader also sends it the results of the
 * writes it forwarded, for when that node reaches them by a snapshot instead.
 */
public sealed interface Result {
    /** The key's value before the command, when it asked for it and the key existed; else {@code null}. */
    byte[] previous();

    /**
     * The command was applied.
     *
     * @param revision the store's revision after it: the command's own revision if it changed anything (a written
     *                 key's new modification revision), else the revision it found
     * @param previous the key's value before, when the command asked for it and the key existed; else {@code null}
     * @param number   the new integer of an increment, the new length of an append, how many keys a delete or an
     *                 expiry removed, 1 or 0 for whether an expire or persist changed the key; 0 otherwise
     */
    record Applied(long revision, byte[] previous, long number) implements Result {
    }

    /**
     * The command was refused where it was applied and changed nothing.
     *
     * @param previous the key's value, when the command asked for it and the key existed; else {@code null}
     */
    record Refused(Refusal refusal, byte[] previous) implements Result {
    }

    /** Why a command was refused. */
    enum Refusal {
        /** Its condition did not hold (HTTP 412, a Redis NX or XX that did not write). */
        PRECONDITION_FAILED,
        /** An increment of a value that is not the decimal text of a signed 64-bit integer. */
        NOT_AN_INTEGER,
        /** An increment that would leave the signed 64-bit range. */
        OVERFLOW,
        /** An append that would make the value longer than {@link Command#MAX_VALUE_BYTES}. */
        TOO_LARGE
    }
}
