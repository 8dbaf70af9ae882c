package io.metcd.raft;

import io.metcd.kv.Consensus;
import io.metcd.kv.KVStore;
import io.metcd.metrics.RaftMetrics;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.PeerMessage;
import io.metcd.model.Unavailable;
import io.metcd.transport.PeerTransport;
import io.metcd.wal.ChronicleRaftStore;
import io.metcd.wal.SnapshotFiles;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftNodeStatus;
import io.microraft.RaftRole;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.report.RaftNodeReport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * raftexample's raftNode on MicroRaft: consensus between the node's channels, and what the rest of the node asks of
 * it. It serves {@code proposeC} ({@link ProposeLoop}) and {@code confChangeC} ({@link MembershipChanges}), and
 * MicroRaft publishes the committed entries on {@code commitC} through {@link KvStateMachine} (the stages in order,
 * and who runs each: the documentation of package {@code io.metcd}). The store reaches it as {@link Consensus}, the
 * cluster API as {@link ClusterAdmin}. Nothing here blocks the Raft thread: continuations of MicroRaft futures run on
 * their own threads.
 */
public final class RaftLoop implements Consensus, ClusterAdmin, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RaftLoop.class);
    public static final String GROUP_ID = "metcd";
    /** A membership change waits for its commit this long, three request timeouts (it has its own timeout inside). */
    private static final Duration CHANGE_TIMEOUT = KVStore.REQUEST_TIMEOUT.multipliedBy(3);
    private static final Duration RETRY_BACKOFF = Duration.ofMillis(50);
    /** A snapshot asked for by hand is written to disk within this long, even at millions of keys. */
    private static final Duration SNAPSHOT_DURABLE_TIMEOUT = Duration.ofSeconds(60);

    private final Member local;
    private final RaftNode raftNode;
    private final PeerTransport transport;
    private final StalePreVoteFix stalePreVoteFix;
    private final ChronicleRaftStore wal;
    private final ProposeLoop proposeLoop;
    private final MembershipChanges membership;
    private final Channel.Sender<ConfChange> confChangeC;
    private final ReadIndex readIndex;
    private final PeerRequests peerRequests;
    private final Runnable onRemoved;
    private final RaftMetrics metrics;
    private final RaftThreadProbe probe;
    private final AtomicBoolean removed = new AtomicBoolean();
    private volatile boolean closing;

    private final ReentrantLock leaderLock = new ReentrantLock();
    private final Condition leaderKnown = leaderLock.newCondition();
    private volatile RaftRole role = RaftRole.FOLLOWER;
    private volatile RaftNodeReport lastReport;
    /** The leader as of the last report, to count leader changes; only the Raft thread touches it. */
    private Member reportedLeader;
    private final LeaderLease lease;
    private final RaftClock clock = new RaftClock();

    /**
     * @param clientUrl   where this node serves clients, told to every peer
     * @param proposeC    the writes of this node's clients, from the store
     * @param confChangeC the membership changes: the cluster API (here) and learner promotion send on it,
     *                    {@link MembershipChanges} receives
     * @param commitC     where the committed entries go, to the store
     * @param store       whose state MicroRaft snapshots, and which keeps the writes this loop proposes
     * @param onRemoved   run once when this node learns it is not (or no longer) a member; it must stop the node
     * @param failStop    stops the node if the state machine fails under MicroRaft
     */
    public RaftLoop(Member local, String clientUrl, Collection<Member> initialMembers, RaftConfig config,
            ChronicleRaftStore wal, Optional<RestoredRaftState> restored, Channel.Receiver<Proposal> proposeC,
            Channel<ConfChange> confChangeC, Channel.Sender<Commit> commitC, KVStore store, Runnable onRemoved,
            FailStop failStop, RaftMetrics metrics) {
        this.local = local;
        this.onRemoved = onRemoved;
        this.metrics = metrics;
        this.wal = wal;
        this.confChangeC = confChangeC.sender();
        this.lease = LeaderLease.following(clock.heartbeatTimeout(config));
        this.transport = new PeerTransport(local, clientUrl, GROUP_ID, this::receive);
        SnapshotBoundaryFix snapshotBoundaryFix = new SnapshotBoundaryFix(new UnwrittenChunks(transport));
        SnapshotTruncationFix snapshotTruncationFix = new SnapshotTruncationFix(this::onReport);
        KvStateMachine stateMachine = new KvStateMachine(commitC, store, wal.snapshots(), this::term, metrics,
                config.getCommitCountToTakeSnapshot(), this::requestSnapshot, failStop);
        RaftNode.RaftNodeBuilder builder = RaftNode.newBuilder().setGroupId(GROUP_ID).setConfig(config)
                .setTransport(snapshotBoundaryFix).setStore(wal).setClock(clock)
                .setExecutor(new RaftClockExecutor(clock)).setStateMachine(stateMachine)
                .setRaftNodeReportListener(snapshotTruncationFix);
        if (restored.isPresent()) {
            builder.setRestoredState(EngineRestart.startAtEngine(restored.get(), store, wal.snapshots()));
        } else {
            builder.setLocalEndpoint(local).setInitialGroupMembers(List.copyOf(initialMembers));
        }
        this.raftNode = builder.build();
        this.probe = new RaftThreadProbe(((RaftNodeImpl) raftNode).getExecutor(), metrics::raftThreadStalled,
                String.valueOf(local.id()));
        snapshotBoundaryFix.attach((RaftNodeImpl) raftNode);
        snapshotTruncationFix.attach((RaftNodeImpl) raftNode);
        this.stalePreVoteFix = new StalePreVoteFix((RaftNodeImpl) raftNode);
        this.readIndex = new ReadIndex(local, (RaftNodeImpl) raftNode, transport, lease);
        this.peerRequests = new PeerRequests(local, raftNode, snapshotBoundaryFix,
                new StaleResponseFix((RaftNodeImpl) raftNode), transport, readIndex, store.writeOutcomes(),
                () -> role == RaftRole.LEADER, this::removedFromCluster);
        this.proposeLoop = new ProposeLoop(local, raftNode, proposeC, transport, store.writeOutcomes(), metrics);
        this.membership = new MembershipChanges(local, raftNode, this::report, clock,
                member -> transport.send(member, new PeerMessage.NotAMember(local.id())), confChangeC.receiver(),
                confChangeC.sender());
        transport.onConnectionLost(readIndex::connectionLost);
    }

    /** What the transport receives; it starts receiving after this constructor, once peerRequests is set. */
    private void receive(Object message) {
        peerRequests.receive(message);
    }

    /** Opens the peer port and starts consensus, then the loops that feed it. The store's applier runs already. */
    public void start() {
        transport.start();
        raftNode.start().join();
        probe.start();
        stalePreVoteFix.start();
        proposeLoop.start();
        membership.start();
    }

    private void removedFromCluster() {
        if (!closing && removed.compareAndSet(false, true)) {
            Thread.ofVirtual().name("removed-" + local.id()).start(onRemoved);
        }
    }

    // ----------------------------------------------------------------------------------- leader & status

    private void onReport(RaftNodeReport report) {
        lastReport = report;
        role = report.getRole();
        readIndex.termKnown(report.getTerm());
        Member leaderNow = (Member) report.getTerm().getLeaderEndpoint();
        if (leaderNow != null && !leaderNow.equals(reportedLeader)) {
            metrics.leaderChanged();
        }
        reportedLeader = leaderNow;
        if (report.getStatus() == RaftNodeStatus.TERMINATED && !report.getCommittedMembers().getMembers().contains(local)) {
            LOG.error("this node (member {}) was removed from the cluster; stopping", local.id());
            removedFromCluster();
        }
        if (report.getTerm().getLeaderEndpoint() != null) {
            leaderLock.lock();
            try {
                leaderKnown.signalAll();
            } finally {
                leaderLock.unlock();
            }
        }
    }

    /** The leader this node currently follows (itself included), or {@code null} while none is known. */
    public Member leader() {
        return (Member) raftNode.getTerm().getLeaderEndpoint();
    }

    @Override
    public boolean awaitLeader(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        leaderLock.lock();
        try {
            long left;
            while (leader() == null && (left = deadline - System.nanoTime()) > 0) {
                // Polls as well: a leader learned between the check and the wait signals nobody.
                leaderKnown.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
            return leader() != null;
        } finally {
            leaderLock.unlock();
        }
    }

    @Override
    public CompletableFuture<Long> readIndex(boolean linearizable) {
        return readIndex.of(linearizable);
    }

    @Override
    public int localId() {
        return local.id();
    }

    /** The clock of this node's MicroRaft, which its reports' timestamps come from. */
    public RaftClock clock() {
        return clock;
    }

    public RaftRole role() {
        return role;
    }

    @Override
    public boolean isLeader() {
        return local.equals(leader());
    }

    @Override
    public boolean leads() {
        return isLeader();
    }

    public int term() {
        return raftNode.getTerm().getTerm();
    }

    /** A fresh report from the Raft thread, or the last published one if the Raft thread is slow to answer. */
    public RaftNodeReport report() {
        try {
            return raftNode.getReport().copy().orTimeout(1, TimeUnit.SECONDS).join().getResult();
        } catch (CompletionException e) {
            return lastReport;
        }
    }

    @Override
    public Status status() {
        RaftNodeReport report = report();
        Member leader = leader();
        return new Status(local.id(), role.name().toLowerCase(), term(), leader == null ? null : leader.id(),
                report == null ? 0 : report.getLog().getCommitIndex(), lastSnapshotIndex());
    }

    @Override
    public Optional<String> unhealthy() {
        if (leader() == null) {
            return Optional.of("no leader");
        }
        RaftNodeStatus status = raftNode.getStatus();
        return status == RaftNodeStatus.ACTIVE ? Optional.empty()
                : Optional.of("node is " + status.name().toLowerCase());
    }

    /**
     * Takes a snapshot at the current commit index now (MicroRaft also takes them every
     * {@code commitCountToTakeSnapshot} commits), and returns once it is durable, which lets the WAL drop what it
     * covers.
     */
    @Override
    public long takeSnapshot() {
        long index;
        try {
            index = raftNode.takeSnapshot().copy().thenApply(ordered -> ordered.getResult() != null
                    ? ordered.getResult().getLog().getLastSnapshotIndex()
                    : ordered.getCommitIndex()).orTimeout(KVStore.REQUEST_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .join();
        } catch (CompletionException e) {
            throw new Unavailable("snapshot not taken in time");
        }
        try {
            wal.snapshots().whenDurable(index).orTimeout(SNAPSHOT_DURABLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .join();
        } catch (CompletionException e) {
            throw new Unavailable("the snapshot at " + index + " was taken but is not on disk yet");
        }
        return index;
    }

    /** A snapshot every so many client writes (see {@link KvStateMachine}); a failed one is retried at the next. */
    private void requestSnapshot() {
        raftNode.takeSnapshot().whenComplete((result, failure) -> {
            if (failure != null) {
                LOG.debug("snapshot not taken: {}", failure.toString());
            }
        });
    }

    /** The index of the newest durable snapshot. */
    public long lastSnapshotIndex() {
        return wal.lastSnapshotIndex();
    }

    @Override
    public Optional<SnapshotFiles.Digest> snapshotDigest() {
        return wal.snapshots().digest();
    }

    /** The peer connections, for their counters and injected faults. */
    public PeerTransport transport() {
        return transport;
    }

    // ------------------------------------------------------------------------------------- membership

    @Override
    public long addMember(Member member) throws InterruptedException {
        return awaitChange(offerChange(new ConfChange.AddLearner(member, new CompletableFuture<>())));
    }

    @Override
    public long removeMember(int id) throws InterruptedException {
        return awaitChange(offerChange(new ConfChange.Remove(id, new CompletableFuture<>())));
    }

    /** Sends {@code change} on confChangeC, which holds one: a change already waiting there is in progress. */
    private CompletableFuture<Long> offerChange(ConfChange change) {
        if (!confChangeC.offer(change)) {
            throw new MembershipException(MembershipException.Reason.CONFLICT,
                    "another membership change is in progress");
        }
        return change.done();
    }

    private static long awaitChange(CompletableFuture<Long> change) {
        try {
            return change.orTimeout(CHANGE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof MembershipException m) {
                throw m;
            }
            throw new Unavailable("membership change not committed in time: " + e.getCause().getMessage());
        }
    }

    @Override
    public List<MemberInfo> members() {
        var members = raftNode.getEffectiveMembers();
        Member leader = leader();
        List<MemberInfo> infos = new ArrayList<>();
        for (RaftEndpoint e : members.getMembers()) {
            Member m = (Member) e;
            String memberRole = m.equals(leader) ? "leader"
                    : members.getVotingMembers().contains(m) ? "follower" : "learner";
            infos.add(new MemberInfo(m.id(), m.peerUrl(), transport.clientUrl(m.id()).orElse(null), memberRole));
        }
        infos.sort(Comparator.comparingInt(MemberInfo::id));
        return infos;
    }

    @Override
    public Optional<String> leaderClientUrl(Duration timeout) throws InterruptedException {
        Member leader = awaitLeader(timeout) ? leader() : null;
        return leader == null ? Optional.empty() : transport.clientUrl(leader.id());
    }

    /**
     * Hands leadership to the voter whose log is furthest ahead, and completes once this node has stepped
     * down; completes at once if it is not the leader. The lease of {@code default} reads ends first, for the rest
     * of this term (see {@link LeaderLease}).
     */
    public CompletableFuture<Void> transferLeadership() {
        if (role != RaftRole.LEADER) {
            return CompletableFuture.completedFuture(null);
        }
        RaftNodeReport now = report();
        Member target = null;
        long best = -1;
        for (RaftEndpoint voter : raftNode.getCommittedMembers().getVotingMembers()) {
            Long match = now.getLog().getFollowerMatchIndices().get(voter);
            if (!voter.equals(local) && match != null && match > best) {
                best = match;
                target = (Member) voter;
            }
        }
        if (target == null) {
            return CompletableFuture.completedFuture(null);
        }
        LOG.info("handing leadership over to {}", target);
        lease.endForHandOver(term());
        return raftNode.transferLeadership(target).copy().orTimeout(5, TimeUnit.SECONDS).thenApply(o -> null);
    }

    @Override
    public void handOverLeadership() throws InterruptedException {
        membership.checkQuorumWithout(raftNode.getEffectiveMembers(), local);
        // The leader steps down first, so that its removal costs no election timeout; the new leader then removes it.
        awaitChange(transferLeadership().thenApply(v -> 0L));
        long deadline = System.nanoTime() + KVStore.REQUEST_TIMEOUT.toNanos();
        while (leader() == null || isLeader()) {
            if (deadline - System.nanoTime() <= RETRY_BACKOFF.toNanos()) {
                throw new Unavailable("no new leader after the hand-over");
            }
            Thread.sleep(RETRY_BACKOFF);
        }
    }

    /** Stops the loops that feed consensus, then consensus itself and the peer connections. */
    @Override
    public void close() {
        closing = true;
        probe.close();
        membership.stop();
        proposeLoop.stop();
        raftNode.terminate().copy().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
        transport.close();
    }
}
