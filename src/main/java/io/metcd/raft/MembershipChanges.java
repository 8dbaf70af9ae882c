package io.metcd.raft;

import io.metcd.model.Member;
import io.metcd.raft.MembershipException.Reason;
import io.microraft.MembershipChangeMode;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.RaftRole;
import io.microraft.report.RaftGroupMembers;
import io.microraft.report.RaftNodeReport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Run-time membership, served from {@code confChangeC} on the leader, one change at a time: a new member
 * joins as a non-voting learner and is promoted to a voter only once its log has caught up with the
 * leader's commit index, so adding a node never costs the cluster its quorum.
 */
final class MembershipChanges {
    private static final Logger LOG = LoggerFactory.getLogger(MembershipChanges.class);
    /** How often the leader looks for a learner that has caught up. */
    private static final Duration PROMOTION_CHECK = Duration.ofMillis(250);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(10);
    /**
     * A learner within this many entries of the commit index has caught up: under a steady write load the
     * commit index keeps moving, so asking for an exact match could postpone the promotion indefinitely.
     */
    private static final long CAUGHT_UP_WITHIN = 64;
    /**
     * A follower heard from within this long counts as up when checking that a removal keeps a quorum: a
     * live follower answers every heartbeat (1 s), and 2 s is when its own followers would give up on a leader.
     */
    static final Duration ALIVE_WITHIN = Duration.ofSeconds(2);

    /** What travels on {@code confChangeC}. */
    record ConfChange(Member member, MembershipChangeMode mode, CompletableFuture<Long> done) {
    }

    private final Member local;
    private final RaftNode raftNode;
    private final Supplier<RaftNodeReport> report;
    private final RaftClock clock;
    private final Consumer<Member> tellRemoved;
    private final BlockingQueue<ConfChange> confChangeC = new ArrayBlockingQueue<>(1);
    /** Held from the moment a change is accepted until MicroRaft committed or refused it. */
    private final Semaphore oneAtATime = new Semaphore(1);
    private final Thread server;

    /**
     * @param clock       the clock of {@code raftNode}, which the heartbeat timestamps of its reports come from
     * @param tellRemoved tells a member its removal is committed: the leader stops replicating to it, so it
     *                    would not learn otherwise
     */
    MembershipChanges(Member local, RaftNode raftNode, Supplier<RaftNodeReport> report, RaftClock clock,
            Consumer<Member> tellRemoved) {
        this.local = local;
        this.raftNode = raftNode;
        this.report = report;
        this.clock = clock;
        this.tellRemoved = tellRemoved;
        this.server = Thread.ofVirtual().name("confchange-" + local.id()).unstarted(this::serve);
    }

    void start() {
        server.start();
    }

    void stop() {
        server.interrupt();
    }

    /**
     * Adds {@code member} as a learner; the leader promotes it to a voter once it has caught up.
     *
     * @return completed with the log index of the change once committed
     */
    CompletableFuture<Long> add(Member member) {
        requireLeader();
        for (RaftEndpoint e : raftNode.getEffectiveMembers().getMembers()) {
            Member existing = (Member) e;
            if (existing.id() == member.id()) {
                throw new MembershipException(Reason.CONFLICT, "member " + member.id() + " already exists");
            }
            if (existing.peerUrl().equals(member.peerUrl())) {
                throw new MembershipException(Reason.CONFLICT,
                        member.peerUrl() + " is already the peer URL of member " + existing.id());
            }
        }
        return submit(member, MembershipChangeMode.ADD_LEARNER);
    }

    /**
     * Removes member {@code id}. Refused if it would leave no voter, or fewer reachable voters than a
     * quorum of those that remain; the leader itself must hand leadership over before it is removed.
     */
    CompletableFuture<Long> remove(int id) {
        requireLeader();
        RaftGroupMembers members = raftNode.getEffectiveMembers();
        Member member = find(members, id);
        if (member == null) {
            throw new MembershipException(Reason.NOT_FOUND, "no member " + id);
        }
        if (member.equals(local)) {
            throw new MembershipException(Reason.NOT_LEADER, "the leader hands leadership over before its removal");
        }
        if (members.getVotingMembers().contains(member)) {
            int remaining = members.getVotingMembers().size() - 1;
            long reachable = members.getVotingMembers().stream().filter(v -> !v.equals(member)).filter(this::isUp)
                    .count();
            if (remaining == 0 || reachable < remaining / 2 + 1) {
                throw new MembershipException(Reason.CONFLICT, "removing member " + id + " would leave " + reachable
                        + " of " + remaining + " voters reachable: not a quorum");
            }
        }
        return submit(member, MembershipChangeMode.REMOVE_MEMBER);
    }

    private boolean isUp(RaftEndpoint voter) {
        if (voter.equals(local)) {
            return true;
        }
        Long heard = report.get().getHeartbeatTimestamps().get(voter);
        return heard != null && clock.elapsedSince(heard).compareTo(ALIVE_WITHIN) < 0;
    }

    private static Member find(RaftGroupMembers members, int id) {
        for (RaftEndpoint e : members.getMembers()) {
            if (((Member) e).id() == id) {
                return (Member) e;
            }
        }
        return null;
    }

    private void requireLeader() {
        if (raftNode.getTerm().getLeaderEndpoint() == null || !local.equals(raftNode.getTerm().getLeaderEndpoint())) {
            throw new MembershipException(Reason.NOT_LEADER, "only the leader changes membership");
        }
    }

    private CompletableFuture<Long> submit(Member member, MembershipChangeMode mode) {
        if (!oneAtATime.tryAcquire()) {
            throw new MembershipException(Reason.CONFLICT, "another membership change is in progress");
        }
        CompletableFuture<Long> done = new CompletableFuture<>();
        done.whenComplete((index, failure) -> oneAtATime.release());
        confChangeC.add(new ConfChange(member, mode, done));
        return done;
    }

    private void serve() {
        try {
            while (true) {
                ConfChange change = confChangeC.poll(PROMOTION_CHECK.toMillis(), TimeUnit.MILLISECONDS);
                if (change != null) {
                    apply(change);
                } else {
                    promoteALearnerThatCaughtUp();
                }
            }
        } catch (InterruptedException e) {
            LOG.debug("membership changes stopped");
        }
    }

    private void apply(ConfChange change) {
        LOG.info("proposing membership change: {} {}", change.mode(), change.member());
        raftNode.changeMembership(change.member(), change.mode(), raftNode.getCommittedMembers().getLogIndex())
                .copy().orTimeout(COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((members, failure) -> {
                    if (failure == null) {
                        LOG.info("membership change committed at {}: {} {}", members.getCommitIndex(),
                                change.mode(), change.member());
                        if (change.mode() == MembershipChangeMode.REMOVE_MEMBER) {
                            tellRemoved.accept(change.member());
                        }
                        change.done().complete(members.getCommitIndex());
                    } else {
                        Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
                        change.done().completeExceptionally(new MembershipException(
                                cause instanceof IllegalArgumentException || cause instanceof IllegalStateException
                                        ? Reason.CONFLICT
                                        : Reason.UNAVAILABLE,
                                "membership change not committed: " + cause));
                    }
                });
    }

    /** The leader promotes one learner whose log reached the commit index, when no other change is running. */
    private void promoteALearnerThatCaughtUp() {
        RaftGroupMembers committed = raftNode.getCommittedMembers();
        if (!local.equals(raftNode.getTerm().getLeaderEndpoint())
                || committed.getMembers().size() == committed.getVotingMembers().size()
                || committed.getLogIndex() != raftNode.getEffectiveMembers().getLogIndex()) {
            return;
        }
        RaftNodeReport now = report.get();
        if (now == null || now.getRole() != RaftRole.LEADER) {
            return;
        }
        Map<RaftEndpoint, Long> matchIndices = now.getLog().getFollowerMatchIndices();
        for (RaftEndpoint e : committed.getMembers()) {
            Long match = matchIndices.get(e);
            if (!committed.getVotingMembers().contains(e) && match != null
                    && match >= now.getLog().getCommitIndex() - CAUGHT_UP_WITHIN && oneAtATime.tryAcquire()) {
                CompletableFuture<Long> done = new CompletableFuture<>();
                done.whenComplete((index, failure) -> oneAtATime.release());
                apply(new ConfChange((Member) e, MembershipChangeMode.ADD_OR_PROMOTE_TO_FOLLOWER, done));
                return;
            }
        }
    }
}
