package io.metcd.kv;

/** How fresh a read must be (the {@code level} of a GET). */
public enum ReadLevel {
    /**
     * This node's applied state at once; only a node restarted on its data first waits, once, to reach the leader's
     * commit index, so that it never serves a state older than before its restart.
     */
    STALE,
    /** The state at the leader's commit index, confirmed under the leader's lease. */
    DEFAULT,
    /** The state at the leader's commit index, confirmed by a heartbeat round (Raft's ReadIndex): linearizable. */
    CONSISTENT
}
