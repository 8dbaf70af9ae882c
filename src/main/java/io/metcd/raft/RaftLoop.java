package io.metcd.raft;

import io.metcd.kv.AbstractKVStore;
import io.metcd.metrics.RaftMetrics;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import io.metcd.model.PeerMessage;
import io.metcd.model.PendingWrite;
import io.metcd.model.ProposalRejectedException;
import io.metcd.transport.PeerTransport;
import io.metcd.wal.ChronicleRaftStore;
import io.microraft.QueryPolicy;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftNodeStatus;
import io.microraft.RaftRole;
import io.microraft.exception.CannotReplicateException;
import io.microraft.exception.NotLeaderException;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.RaftMessage;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.report.RaftNodeReport;
import io.microraft.report.RaftTerm;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * raftexample's raftNode on MicroRaft: the loop between the client-facing channels and consensus.
 * <ul>
 * <li>{@code proposeC} &rarr; here: writes are grouped into one {@link Operation.Batch} per pass and
 * replicated by the leader, or forwarded to it by a follower.</li>
 * <li>MicroRaft persists every entry in the {@link ChronicleRaftStore} WAL (synced once per batch) before it
 * acknowledges or counts it, and ships it to the peers over the {@link PeerTransport}.</li>
 * <li>committed entries &rarr; {@code commitC} (through {@link KvStateMachine}), which the store applies.</li>
 * </ul>
 * MicroRaft keeps its Ready/Advance cycle inside its Raft thread; this class only feeds it and listens.
 * Nothing here blocks the Raft thread: continuations of MicroRaft futures run on their own threads.
 */
public final class RaftLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RaftLoop.class);
    public static final String GROUP_ID = "metcd";
    /** Writes per log entry: bounds an entry's size (values are at most 1 MiB each) and the apply pass. */
    private static final int MAX_PROPOSALS_PER_ENTRY = 512;
    private static final int MAX_ENTRY_BYTES = 1 << 20;

    private final Member local;
    private final Channel.Receiver<PendingWrite> proposeC;
    private final Channel.Sender<ConfChange> confChangeC;
    private final RaftNode raftNode;
    private final PeerTransport transport;
    private final SnapshotBoundaryFix snapshotBoundaryFix;
    private final StalePreVoteFix stalePreVoteFix;
    private final ChronicleRaftStore wal;
    private final AbstractKVStore store;
    private final Thread proposeLoop;
    private final Thread applier;
    private final MembershipChanges membership;
    private final Runnable onRemoved;
    private final RaftMetrics metrics;
    private final AtomicBoolean removed = new AtomicBoolean();
    private volatile boolean closing;
    /** When this leader last told a non-member so, by member id: once a second is enough. */
    private final Map<Integer, Long> toldNotAMember = new ConcurrentHashMap<>();

    private final ReentrantLock leaderLock = new ReentrantLock();
    private final Condition leaderKnown = leaderLock.newCondition();
    private volatile RaftRole role = RaftRole.FOLLOWER;
    private volatile RaftNodeReport lastReport;
    /** The leader as of the last report, to count leader changes; only the Raft thread touches it. */
    private Member reportedLeader;

    /**
     * Writes forwarded to a leader, by sequence number, until applied or failed: the leader's word that it committed
     * them completes them once applied here, a rejection fails them at once, and so does a later term's first entry
     * (see {@link #failForwardedBefore}).
     */
    private final Map<Long, Forwarded> forwarded = new ConcurrentHashMap<>();

    /** A write forwarded in {@code term}, when {@code snapshotsInstalled} snapshots had been installed here. */
    private record Forwarded(int term, long snapshotsInstalled, CompletableFuture<Long> applied) {
    }
    private final ReadIndexRequests readIndexRequests = new ReadIndexRequests();
    private final KvStateMachine stateMachine;
    private final LeaderLease lease;
    private final RaftClock clock = new RaftClock();

    /**
     * @param clientUrl   where this node serves clients, told to every peer
     * @param onRemoved   run once when this node learns it is not (or no longer) a member; it must stop the node
     * @param failStop    stops the node if the state machine fails under MicroRaft
     */
    public RaftLoop(Member local, String clientUrl, Collection<Member> initialMembers, RaftConfig config,
            ChronicleRaftStore wal, Optional<RestoredRaftState> restored, Channel.Receiver<PendingWrite> proposeC,
            Channel<ConfChange> confChangeC, Channel.Sender<Commit> commitC, AbstractKVStore store, Runnable onRemoved,
            FailStop failStop, RaftMetrics metrics) {
        this.local = local;
        this.onRemoved = onRemoved;
        this.metrics = metrics;
        this.proposeC = proposeC;
        this.confChangeC = confChangeC.sender();
        this.wal = wal;
        this.store = store;
        this.lease = new LeaderLease(clock.toRealTime(Duration.ofSeconds(config.getLeaderHeartbeatTimeoutSecs())));
        this.transport = new PeerTransport(local, clientUrl, GROUP_ID, this::receive);
        this.snapshotBoundaryFix = new SnapshotBoundaryFix(transport);
        this.stateMachine = new KvStateMachine(commitC, store, wal, this::term, metrics,
                config.getCommitCountToTakeSnapshot(), this::requestSnapshot, failStop);
        RaftNode.RaftNodeBuilder builder = RaftNode.newBuilder().setGroupId(GROUP_ID).setConfig(config)
                .setTransport(snapshotBoundaryFix).setStore(wal).setClock(clock).setStateMachine(stateMachine)
                .setRaftNodeReportListener(this::onReport);
        if (restored.isPresent()) {
            builder.setRestoredState(restored.get());
        } else {
            builder.setLocalEndpoint(local).setInitialGroupMembers(List.copyOf(initialMembers));
        }
        this.raftNode = builder.build();
        snapshotBoundaryFix.attach((RaftNodeImpl) raftNode);
        this.stalePreVoteFix = new StalePreVoteFix((RaftNodeImpl) raftNode);
        this.applier = Thread.ofVirtual().name("applier-" + local.id()).unstarted(store::readCommits);
        this.proposeLoop = Thread.ofVirtual().name("propose-" + local.id()).unstarted(this::servePropose);
        this.membership = new MembershipChanges(local, raftNode, this::report, clock,
                removed -> transport.send(removed, new PeerMessage.NotAMember(local.id())), confChangeC.receiver(), confChangeC.sender());
        store.onTermStarted(this::failForwardedBefore);
        transport.onConnectionLost(readIndexRequests::failAskedOf);
    }

    /** Opens the peer port and starts consensus, the applier and the propose loop. */
    public void start() {
        transport.start();
        applier.start();
        raftNode.start().join();
        stalePreVoteFix.start();
        proposeLoop.start();
        membership.start();
    }

    // ------------------------------------------------------------------------------- writes: proposeC

    private void servePropose() {
        List<PendingWrite> writes = new ArrayList<>(MAX_PROPOSALS_PER_ENTRY);
        try {
            while (true) {
                writes.add(proposeC.take());
                proposeC.drainTo(writes, MAX_PROPOSALS_PER_ENTRY - 1);
                int from = 0;
                int bytes = 0;
                for (int i = 0; i < writes.size(); i++) {
                    bytes += sizeOf(writes.get(i).proposal());
                    if (bytes >= MAX_ENTRY_BYTES && i > from) {
                        propose(List.copyOf(writes.subList(from, i)));
                        from = i;
                        bytes = sizeOf(writes.get(i).proposal());
                    }
                }
                propose(List.copyOf(writes.subList(from, writes.size())));
                writes.clear();
            }
        } catch (InterruptedException e) {
            LOG.debug("propose loop stopped");
        }
    }

    private static int sizeOf(Operation.Proposal p) {
        return p.key().length() + (p.isDelete() ? 0 : p.value().length);
    }

    /** @param writes owned by this call: the failure path holds on to it after the loop has moved on */
    private void propose(List<PendingWrite> writes) {
        List<Operation.Proposal> proposals = new ArrayList<>(writes.size());
        for (PendingWrite w : writes) {
            proposals.add(w.proposal());
        }
        RaftTerm term = raftNode.getTerm();
        Member leader = (Member) term.getLeaderEndpoint();
        if (leader == null) {
            rejectAll(writes, "no leader");
        } else if (leader.equals(local)) {
            metrics.proposed(writes.size());
            raftNode.replicate(new Operation.Batch(proposals)).whenComplete((result, failure) -> {
                if (failure != null) {
                    Throwable cause = failureFor(failure);
                    writes.forEach(w -> w.applied().completeExceptionally(cause));
                }
            });
        } else {
            metrics.proposed(writes.size());
            long installed = stateMachine.snapshotsInstalled();
            for (PendingWrite w : writes) {
                long seq = w.proposal().seq();
                forwarded.put(seq, new Forwarded(term.getTerm(), installed, w.applied()));
                w.applied().whenComplete((index, failure) -> forwarded.remove(seq));
            }
            transport.send(leader, new PeerMessage.ForwardedProposals(local.id(), term.getTerm(), proposals));
        }
    }

    private static void rejectAll(List<PendingWrite> writes, String reason) {
        ProposalRejectedException rejection = new ProposalRejectedException(reason);
        writes.forEach(w -> w.applied().completeExceptionally(rejection));
    }

    /** A write that MicroRaft refused before logging it may be retried; anything else has an unknown outcome. */
    private static Throwable failureFor(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause()
                : failure;
        if (cause instanceof NotLeaderException) {
            return new ProposalRejectedException("not the leader");
        } else if (cause instanceof CannotReplicateException) {
            return new ProposalRejectedException("too many writes in flight");
        }
        return cause;
    }

    // ---------------------------------------------------------------------------------- reads: ReadIndex

    /**
     * The index a read must wait for to see every write acknowledged before it started: the leader's
     * commit index once it has confirmed its leadership (a heartbeat round for {@code linearizable}, its
     * lease otherwise, renewed by a heartbeat round when it has run out: see {@link LeaderLease}). A
     * follower asks the leader. Fails with {@link ProposalRejectedException} when no leader can answer.
     */
    public CompletableFuture<Long> readIndex(boolean linearizable) {
        RaftTerm now = raftNode.getTerm();
        Member leader = (Member) now.getLeaderEndpoint();
        if (leader == null) {
            return CompletableFuture.failedFuture(new ProposalRejectedException("no leader"));
        } else if (leader.equals(local)) {
            int term = now.getTerm();
            long asked = System.nanoTime();
            if (!linearizable && lease.holds(term, asked)) {
                return query(QueryPolicy.LEADER_LEASE);
            }
            LeaderLease.Round round = lease.begin(term, asked);
            return query(QueryPolicy.LINEARIZABLE).whenComplete((index, failure) -> lease.end(round, failure == null));
        }
        ReadIndexRequests.Asked asked = readIndexRequests.ask(leader, now.getTerm());
        transport.send(leader, new PeerMessage.ReadIndexRequest(local.id(), asked.id(), linearizable));
        // A change of leader reported before the request was registered did not fail it.
        readIndexRequests.failNotAskedIn(raftNode.getTerm());
        return asked.index();
    }

    /** This leader's commit index once MicroRaft confirms, as {@code policy} says, that it still leads. */
    private CompletableFuture<Long> query(QueryPolicy policy) {
        CompletableFuture<Long> index = new CompletableFuture<>();
        raftNode.query(KvStateMachine.READ_INDEX, policy, Optional.empty(), Optional.empty())
                .whenComplete((ordered, failure) -> {
                    if (failure != null) {
                        index.completeExceptionally(new ProposalRejectedException("leadership not confirmed"));
                    } else {
                        index.complete(ordered.getCommitIndex());
                    }
                });
        return index;
    }

    // ------------------------------------------------------------------------------------ from the peers

    /** Everything the transport receives; called on its reader threads, so it only hands work on. */
    private void receive(Object message) {
        switch (message) {
            case RaftMessage m when isNonMember(m.getSender()) -> tellNotAMember((Member) m.getSender());
            case AppendEntriesRequest m -> snapshotBoundaryFix.handle(m);
            case RaftMessage m -> raftNode.handle(m);
            case PeerMessage.NotAMember m -> {
                LOG.error("leader {} says this node (member {}) is not in the cluster: it was removed, or never "
                        + "added (POST /-/members/{} first); stopping", m.from(), local.id(), local.id());
                removedFromCluster();
            }
            case PeerMessage.ForwardedProposals m -> proposeForwarded(m);
            case PeerMessage.ProposalsRejected m -> {
                ProposalRejectedException rejection = new ProposalRejectedException(m.reason());
                for (long seq : m.seqs()) {
                    Forwarded waiting = forwarded.get(seq);
                    if (waiting != null) {
                        waiting.applied().completeExceptionally(rejection);
                    }
                }
            }
            case PeerMessage.ProposalsCommitted m -> {
                // Usually here before this node applies the entry: then either way of answering them may come first.
                List<CompletableFuture<Long>> waiting = new ArrayList<>(m.seqs().length);
                for (long seq : m.seqs()) {
                    Forwarded write = forwarded.get(seq);
                    if (write != null) {
                        waiting.add(write.applied());
                    }
                }
                if (!waiting.isEmpty()) {
                    store.whenApplied(m.index()).thenRun(() -> waiting.forEach(w -> w.complete(m.index())));
                }
            }
            case PeerMessage.ReadIndexRequest m -> readIndex(m.linearizable()).whenComplete(
                    (index, failure) -> reply(m.from(), new PeerMessage.ReadIndexResponse(local.id(), m.requestId(),
                            failure == null ? index : -1)));
            case PeerMessage.ReadIndexResponse m -> readIndexRequests.answered(m.requestId(), m.index());
            default -> LOG.warn("dropping unexpected message {}", message);
        }
    }

    /** Only the leader judges: a follower's view of the membership may lag behind a change. */
    private boolean isNonMember(RaftEndpoint sender) {
        return role == RaftRole.LEADER && !raftNode.getEffectiveMembers().getMembers().contains(sender);
    }

    private void tellNotAMember(Member sender) {
        long now = System.nanoTime();
        Long last = toldNotAMember.get(sender.id());
        if (last == null || now - last > TimeUnit.SECONDS.toNanos(1)) {
            toldNotAMember.put(sender.id(), now);
            LOG.warn("{} is not a member: telling it to stop", sender);
            transport.send(sender, new PeerMessage.NotAMember(local.id()));
        }
    }

    private void removedFromCluster() {
        if (!closing && removed.compareAndSet(false, true)) {
            Thread.ofVirtual().name("removed-" + local.id()).start(onRemoved);
        }
    }

    /**
     * Called by the applier once a new leader's first entry, of {@code term}, is applied: a write forwarded
     * in an earlier term could only have been logged in that term, so if it is not applied by now it never
     * will be, and its client can retry at once instead of waiting for a timeout. Unless a snapshot was installed
     * since it was forwarded: the write may be in it, and proposing it again could undo a later write.
     */
    private void failForwardedBefore(int term) {
        ProposalRejectedException lost = new ProposalRejectedException("leader changed before the write committed");
        long installed = stateMachine.snapshotsInstalled();
        forwarded.values().stream().filter(f -> f.term() < term && f.snapshotsInstalled() == installed)
                .forEach(f -> f.applied().completeExceptionally(lost));
    }

    private void proposeForwarded(PeerMessage.ForwardedProposals m) {
        // Raft tasks run in order, so a leader that still leads in the sender's term when this check runs
        // logs the batch in that term, or not at all.
        RaftTerm term = raftNode.getTerm();
        if (!local.equals(term.getLeaderEndpoint()) || term.getTerm() != m.term()) {
            rejectForwarded(m, "not the leader of term " + m.term());
            return;
        }
        raftNode.replicate(new Operation.Batch(m.proposals())).whenComplete((result, failure) -> {
            if (failure == null) {
                reply(m.from(), new PeerMessage.ProposalsCommitted(local.id(), seqs(m), result.getCommitIndex()));
            } else if (failureFor(failure) instanceof ProposalRejectedException rejection) {
                rejectForwarded(m, rejection.getMessage());
            }
        });
    }

    private void rejectForwarded(PeerMessage.ForwardedProposals m, String reason) {
        reply(m.from(), new PeerMessage.ProposalsRejected(local.id(), seqs(m), reason));
    }

    private static long[] seqs(PeerMessage.ForwardedProposals m) {
        return m.proposals().stream().mapToLong(Operation.Proposal::seq).toArray();
    }

    private void reply(int memberId, PeerMessage message) {
        Member to = member(memberId);
        if (to != null) {
            transport.send(to, message);
        }
    }

    /** The member with this id in the latest membership this node knows, or {@code null}. */
    public Member member(int id) {
        for (RaftEndpoint e : raftNode.getEffectiveMembers().getMembers()) {
            if (e instanceof Member m && m.id() == id) {
                return m;
            }
        }
        return null;
    }

    // ----------------------------------------------------------------------------------- leader & status

    private void onReport(RaftNodeReport report) {
        lastReport = report;
        role = report.getRole();
        readIndexRequests.failNotAskedIn(report.getTerm());
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

    /** Waits up to {@code timeout} for a leader to be known; returns it, or {@code null}. */
    public Member awaitLeader(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        leaderLock.lock();
        try {
            Member leader;
            long left;
            while ((leader = leader()) == null && (left = deadline - System.nanoTime()) > 0) {
                // Polls as well: a leader learned between the check and the wait signals nobody.
                leaderKnown.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
            return leader;
        } finally {
            leaderLock.unlock();
        }
    }

    public Member local() {
        return local;
    }

    /** The clock of this node's MicroRaft, which its reports' timestamps come from. */
    public RaftClock clock() {
        return clock;
    }

    public RaftRole role() {
        return role;
    }

    public int term() {
        return raftNode.getTerm().getTerm();
    }

    public RaftNodeStatus nodeStatus() {
        return raftNode.getStatus();
    }

    /** A fresh report from the Raft thread, or the last published one if the Raft thread is slow to answer. */
    public RaftNodeReport report() {
        try {
            return raftNode.getReport().copy().orTimeout(1, TimeUnit.SECONDS).join().getResult();
        } catch (CompletionException e) {
            return lastReport;
        }
    }

    /**
     * Takes a snapshot at the current commit index now (MicroRaft also takes them every
     * {@code commitCountToTakeSnapshot} commits), which lets the WAL drop what it covers.
     *
     * @return the index of the latest snapshot once it is persisted
     */
    public CompletableFuture<Long> takeSnapshot() {
        return raftNode.takeSnapshot().copy().thenApply(ordered -> ordered.getResult() != null
                ? ordered.getResult().getLog().getLastSnapshotIndex()
                : ordered.getCommitIndex());
    }

    /** A snapshot every so many client writes (see {@link KvStateMachine}); a failed one is retried at the next. */
    private void requestSnapshot() {
        raftNode.takeSnapshot().whenComplete((result, failure) -> {
            if (failure != null) {
                LOG.debug("snapshot not taken: {}", failure.toString());
            }
        });
    }

    // ------------------------------------------------------------------------------------- membership

    /** Adds a member as a learner (promoted once caught up); on the leader only, one change at a time. */
    public CompletableFuture<Long> addMember(Member member) {
        return offerChange(new ConfChange.AddLearner(member, new CompletableFuture<>()));
    }

    /** Removes a member other than this leader; on the leader only, one change at a time. */
    public CompletableFuture<Long> removeMember(int id) {
        return offerChange(new ConfChange.Remove(id, new CompletableFuture<>()));
    }

    private CompletableFuture<Long> offerChange(ConfChange change) {
        if (!confChangeC.offer(change)) {
            throw new MembershipException(MembershipException.Reason.CONFLICT,
                    "another membership change is in progress");
        }
        return change.done();
    }

    /** A member as the cluster API shows it. */
    public record MemberInfo(int id, String peerUrl, String clientUrl, String role) {
    }

    /** The latest membership this node knows, with each member's role as this node sees it. */
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

    /** Where member {@code id} serves clients, once it has connected to this node. */
    public Optional<String> clientUrl(int id) {
        return transport.clientUrl(id);
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

    /** The peer connections, for their counters. */
    public PeerTransport transport() {
        return transport;
    }

    public long lastSnapshotIndex() {
        return wal.lastSnapshotIndex();
    }

    public boolean applierAlive() {
        return applier.isAlive();
    }

    @Override
    public void close() {
        closing = true;
        membership.stop();
        proposeLoop.interrupt();
        raftNode.terminate().copy().orTimeout(5, TimeUnit.SECONDS).exceptionally(e -> null).join();
        transport.close();
        applier.interrupt();
        try {
            // Not started when start() failed first (a taken peer port): joining it would throw and hide why.
            if (applier.getState() != Thread.State.NEW) {
                applier.join(Duration.ofSeconds(5));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.close();
        wal.close();
    }
}
