package io.metcd.raft;

/** A membership change refused before it reached the log; {@link #reason()} says what the caller did wrong. */
public class MembershipException extends RuntimeException {
    /**
     * Why a change was not made; {@link MembershipRequests.NotDone} carries it to the client APIs, which answer each
     * in their own terms.
     */
    public enum Reason {
        /** Malformed id or URL. */
        BAD_REQUEST,
        /** No such member. */
        NOT_FOUND,
        /** Clashes with the current membership, or with a change still in progress. */
        CONFLICT,
        /** Only the leader changes membership; ask it. */
        NOT_LEADER,
        /** The change could not be committed in time. */
        UNAVAILABLE
    }

    private final Reason reason;

    public MembershipException(Reason reason, String message) {
        super(message, null, false, false);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
