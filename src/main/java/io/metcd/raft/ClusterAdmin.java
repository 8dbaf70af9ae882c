package io.metcd.raft;

import io.metcd.kv.KVStore;
import io.metcd.model.Member;
import io.metcd.model.Unavailable;
import io.metcd.wal.SnapshotFiles;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * What the cluster API asks of this node's consensus: who leads, the membership and its changes, snapshots and
 * health. The blocking calls wait at most a bounded time ({@link KVStore#REQUEST_TIMEOUT}, three of them for a
 * membership change) and then throw {@link Unavailable}.
 */
public interface ClusterAdmin {
    /** A member as the cluster API shows it: {@code role} is leader, follower or learner, as this node sees it. */
    record MemberInfo(int id, String peerUrl, String clientUrl, String role) {
    }

    /** This node's view of consensus, for {@code /-/status}. */
    record Status(int id, String role, int term, Integer leaderId, long commitIndex, long lastSnapshotIndex) {
    }

    /** This node's member id. */
    int localId();

    /** Whether this node is the leader, as far as it knows. */
    boolean isLeader();

    /** Where the leader serves clients, once a leader is known and has connected here; empty after {@code timeout}. */
    Optional<String> leaderClientUrl(Duration timeout) throws InterruptedException;

    Status status();

    /** The latest membership this node knows, by id. */
    List<MemberInfo> members();

    /**
     * Adds {@code member} as a learner, promoted to a voter once it has caught up; on the leader only, one change at
     * a time.
     *
     * @return the log index of the change, once committed
     * @throws MembershipException if the change is refused
     */
    long addMember(Member member) throws InterruptedException;

    /**
     * Removes member {@code id}, which must not be this leader ({@link #handOverLeadership} first); on the leader
     * only, one change at a time.
     *
     * @return the log index of the change, once committed
     * @throws MembershipException if the change is refused
     */
    long removeMember(int id) throws InterruptedException;

    /**
     * Hands this leader's leadership to a follower before its own removal, and returns once another node leads.
     *
     * @throws MembershipException if that removal would be refused: it would leave the voters without a reachable
     *                             quorum, or without a voter at all
     */
    void handOverLeadership() throws InterruptedException;

    /** Takes a snapshot at the commit index now; returns the index of the latest snapshot once persisted. */
    long takeSnapshot();

    /** The newest durable snapshot's index and digest, to compare nodes' states; empty while there is none. */
    Optional<SnapshotFiles.Digest> snapshotDigest();

    /** Why this node cannot serve (no leader known, consensus not running), or empty when it can. */
    Optional<String> unhealthy();
}
