package io.metcd.metrics;

/** What the Raft layer counts as it happens; {@link Metrics} implements it. */
public interface RaftMetrics {
    /** Client writes handed to Raft: replicated as the leader, or forwarded to it. */
    void proposed(int writes);

    /** One committed entry handed to the store to apply. */
    void committed();

    /** This node saw a new leader. */
    void leaderChanged();

    /** The Raft thread took {@code nanos} to take a snapshot (its state is written afterwards, elsewhere). */
    void snapshotTaken(long nanos);

    /**
     * The Raft thread waited {@code nanos} for room on a full {@code commitC}: the store applies more slowly than
     * entries commit. Not told when there was room at once.
     */
    void commitWaited(long nanos);

    /** The Raft thread kept a task waiting, or was busy with one, for {@code nanos}. */
    void raftThreadStalled(long nanos);
}
