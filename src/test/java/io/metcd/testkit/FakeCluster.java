package io.metcd.testkit;

import io.metcd.model.Member;
import io.metcd.raft.ClusterAdmin;
import io.metcd.raft.MembershipException;
import io.metcd.wal.SnapshotFiles;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Consensus as the cluster API's tests want it: this node leads, unless a test names another leader, whose client URL
 * it then gives. Membership changes apply at once, or fail as a test says; snapshots too.
 */
public final class FakeCluster implements ClusterAdmin {
    private final int local;
    public final List<Member> members = new CopyOnWriteArrayList<>();
    /** The leader's id, 0 for none. */
    public volatile int leader;
    /** Where the leader serves clients when it is not this node. */
    public volatile String leaderClientUrl;
    /** What the next membership change, hand-over or snapshot throws, if anything. */
    public volatile RuntimeException failure;
    /** Who leads once this node has handed its leadership over, 0 for none yet. */
    public volatile int nextLeader;

    /** Member {@code local}, alone and leading. */
    public FakeCluster(int local) {
        this.local = local;
        reset();
    }

    /** Back to a one-member cluster that this node leads. */
    public void reset() {
        members.clear();
        members.add(new Member(local, "http://127.0.0.1:" + local));
        leader = local;
        leaderClientUrl = null;
        failure = null;
        nextLeader = 0;
    }

    @Override
    public int localId() {
        return local;
    }

    @Override
    public boolean isLeader() {
        return leader == local;
    }

    @Override
    public Optional<String> leaderClientUrl(Duration timeout) {
        return Optional.ofNullable(leader == 0 ? null : leaderClientUrl);
    }

    @Override
    public Status status() {
        return new Status(local, isLeader() ? "leader" : "follower", 2, leader == 0 ? null : leader, 7, 3);
    }

    @Override
    public List<MemberInfo> members() {
        List<MemberInfo> infos = new ArrayList<>();
        for (Member m : members) {
            infos.add(new MemberInfo(m.id(), m.peerUrl(), null, m.id() == leader ? "leader" : "follower"));
        }
        infos.sort(Comparator.comparingInt(MemberInfo::id));
        return infos;
    }

    @Override
    public long addMember(Member member) {
        failIfAsked();
        members.add(member);
        return 8;
    }

    @Override
    public long removeMember(int id) {
        failIfAsked();
        if (!members.removeIf(m -> m.id() == id)) {
            throw new MembershipException(MembershipException.Reason.NOT_FOUND, "no member " + id);
        }
        return 9;
    }

    @Override
    public void handOverLeadership() {
        failIfAsked();
        leader = nextLeader;
    }

    @Override
    public long takeSnapshot() {
        failIfAsked();
        return 7;
    }

    @Override
    public Optional<SnapshotFiles.Digest> snapshotDigest() {
        return Optional.empty();
    }

    @Override
    public Optional<String> unhealthy() {
        return leader == 0 ? Optional.of("no leader") : Optional.empty();
    }

    private void failIfAsked() {
        RuntimeException e = failure;
        if (e != null) {
            throw e;
        }
    }
}
