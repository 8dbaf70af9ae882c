package io.metcd.model;

/** A write that certainly did not reach the log (no leader, not leader, overloaded): safe to retry. */
public class ProposalRejectedException extends RuntimeException {
    public ProposalRejectedException(String reason) {
        super(reason, null, false, false);
    }
}
