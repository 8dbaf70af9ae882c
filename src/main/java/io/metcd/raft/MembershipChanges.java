package io.metcd.raft;

import io.metcd.model.Channel;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Run-time membership, served from {@code confChangeC} on the leader, one change at a time: a new member joins as a
 * non-voting learner and is promoted to a voter only once its log has caught up with the leader's commit index, so
 * adding a node never costs the cluster its quorum. Two senders use the channel: the cluster API (additions and
 * removals) and this class's own check for learners that caught up (promotions).
 * <p>
 * One at a time is MicroRaft's rule, read from its state: a change proposed but not yet committed shows as an
 * effective membership newer than the committed one, and every change is refused while there is one. The server
 * takes the next change only once MicroRaft has taken up the previous one, so that the next is checked against it;
 * and the channel holds one change, so a second one sent meanwhile is refused at once.
 */
final class MembershipChanges {
    private static final Logger LOG = LoggerFactory.getLogger(MembershipChanges.class);
    /** How often the leader looks for a learner that has caught up. */
    static final Duration PROMOTION_CHECK = Duration.ofMillis(250);
    private static final Duration COMMIT_TIMEOUT = Duration.ofSeconds(10);
    /**
     * A learner within this many entries of the commit index has caught up: under a steady write load the
     * commit index keeps moving, so asking for an exact match could postpone the promotion indefinitely.
     */
    private static final long CAUGHT_UP_WITHIN = 64;
    /**
     * A follower heard from within this long counts as up when checking that a removal keeps a quorum: a
     * live follower answers every heartbeat, and this is when a leader's followers would give it up.
     */
    static final Duration ALIVE_WITHIN = RaftTiming.HEARTBEAT_TIMEOUT;
    /** How long the server waits for MicroRaft to take a change up; it answers in microseconds unless stopping. */
    private static final Duration TAKE_UP_TIMEOUT = Duration.ofSeconds(5);

    private final Member local;
    private final RaftNode raftNode;
    private final Supplier<RaftNodeReport> report;
    private final RaftClock clock;
    private final Consumer<Member> tellRemoved;
    private final Channel.Receiver<ConfChange> confChangeC;
    private final Channel.Sender<ConfChange> promotions;
    private final Thread server;
    private final Thread promoter;

    /**
     * @param confChangeC where the changes to make come from
     * @param promotions  where this node's leader sends the promotions of learners that caught up: confChangeC
     * @param clock       the clock of {@code raftNode}, which the heartbeat timestamps of its reports come from
     * @param tellRemoved tells a member its removal is committed: the leader stops replicating to it, so it
     *                    would not learn otherwise
     */
    MembershipChanges(Member local, RaftNode raftNode, Supplier<RaftNodeReport> report, RaftClock clock,
            Consumer<Member> tellRemoved, Channel.Receiver<ConfChange> confChangeC,
            Channel.Sender<ConfChange> promotions) {
        this.local = local;
        this.raftNode = raftNode;
        this.report = report;
        this.clock = clock;
        this.tellRemoved = tellRemoved;
        this.confChangeC = confChangeC;
        this.promotions = promotions;
        this.server = Thread.ofVirtual().name("confchange-" + local.id()).unstarted(this::serve);
        this.promoter = Thread.ofVirtual().name("promoter-" + local.id()).unstarted(this::promoteLearners);
    }

    void start() {
        server.start();
        promoter.start();
    }

    void stop() {
        promoter.interrupt();
        server.interrupt();
    }

    private void serve() {
        try {
            while (true) {
                propose(confChangeC.take());
            }
        } catch (InterruptedException e) {
            LOG.debug("membership changes stopped");
        }
    }

    private void propose(ConfChange change) throws InterruptedException {
        Member member;
        MembershipChangeMode mode;
        try {
            requireLeader();
            RaftGroupMembers members = raftNode.getEffectiveMembers();
            if (members.getLogIndex() != raftNode.getCommittedMembers().getLogIndex()) {
                throw new MembershipException(Reason.CONFLICT, "another membership change is in progress");
            }
            switch (change) {
                case ConfChange.AddLearner add -> {
                    member = checkNew(members, add.member());
                    mode = MembershipChangeMode.ADD_LEARNER;
                }
                case ConfChange.Promote promote -> {
                    member = promote.learner();
                    mode = MembershipChangeMode.ADD_OR_PROMOTE_TO_FOLLOWER;
                }
                case ConfChange.Remove remove -> {
                    member = checkRemovable(members, remove.id());
                    mode = MembershipChangeMode.REMOVE_MEMBER;
                }
            }
        } catch (MembershipException refused) {
            change.done().completeExceptionally(refused);
            return;
        }
        LOG.info("proposing membership change: {} {}", mode, member);
        raftNode.changeMembership(member, mode, raftNode.getCommittedMembers().getLogIndex())
                .copy().orTimeout(COMMIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((committed, failure) -> {
                    if (failure == null) {
                        LOG.info("membership change committed at {}: {} {}", committed.getCommitIndex(), mode, member);
                        if (mode == MembershipChangeMode.REMOVE_MEMBER) {
                            tellRemoved.accept(member);
                        }
                        change.done().complete(committed.getCommitIndex());
                    } else {
                        Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
                        change.done().completeExceptionally(new MembershipException(
                                cause instanceof IllegalArgumentException || cause instanceof IllegalStateException
                                        ? Reason.CONFLICT
                                        : Reason.UNAVAILABLE,
                                "membership change not committed: " + cause));
                    }
                });
        awaitTakenUp();
    }

    /**
     * Waits until MicroRaft has appended the change just proposed, or refused it: it runs its tasks in order, so a
     * report asked for after the change comes once the change shows in the effective membership, if it ever does.
     */
    private void awaitTakenUp() throws InterruptedException {
        try {
            raftNode.getReport().get(TAKE_UP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            LOG.debug("no report after a membership change: {}", e.toString());
        }
    }

    /** The new member, unless its id or peer URL is taken. */
    private static Member checkNew(RaftGroupMembers members, Member member) {
        for (RaftEndpoint e : members.getMembers()) {
            Member existing = (Member) e;
            if (existing.id() == member.id()) {
                throw new MembershipException(Reason.CONFLICT, "member " + member.id() + " already exists");
            }
            if (existing.peerUrl().equals(member.peerUrl())) {
                throw new MembershipException(Reason.CONFLICT,
                        member.peerUrl() + " is already the peer URL of member " + existing.id());
            }
        }
        return member;
    }

    /** Member {@code id}, unless it is this leader (which hands leadership over first) or a voter it cannot lose. */
    private Member checkRemovable(RaftGroupMembers members, int id) {
        Member member = find(members, id);
        if (member == null) {
            throw new MembershipException(Reason.NOT_FOUND, "no member " + id);
        }
        if (member.equals(local)) {
            throw new MembershipException(Reason.NOT_LEADER, "the leader hands leadership over before its removal");
        }
        checkQuorumWithout(members, member);
        return member;
    }

    /**
     * Refuses removing {@code member} if it is a voter whose removal would leave no voter, or fewer reachable voters
     * than a quorum of those that remain. The leader asks it of its own removal before handing leadership over for
     * it: the new leader would refuse it, and with no voter to hand over to, no new leader would come.
     */
    void checkQuorumWithout(RaftGroupMembers members, Member member) {
        if (members.getVotingMembers().contains(member)) {
            int remaining = members.getVotingMembers().size() - 1;
            long reachable = members.getVotingMembers().stream().filter(v -> !v.equals(member)).filter(this::isUp)
                    .count();
            if (remaining == 0 || reachable < remaining / 2 + 1) {
                throw new MembershipException(Reason.CONFLICT, "removing member " + member.id() + " would leave "
                        + reachable + " of " + remaining + " voters reachable: not a quorum");
            }
        }
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
        if (!local.equals(raftNode.getTerm().getLeaderEndpoint())) {
            throw new MembershipException(Reason.NOT_LEADER, "only the leader changes membership");
        }
    }

    /** Every {@link #PROMOTION_CHECK}, the leader sends the promotion of one learner that caught up, if any. */
    private void promoteLearners() {
        try {
            while (true) {
                Thread.sleep(PROMOTION_CHECK);
                Member learner = aLearnerThatCaughtUp();
                // A change already waiting goes first; the learner is found again at a later check.
                if (learner != null && promotions.offer(new ConfChange.Promote(learner, new CompletableFuture<>()))) {
                    LOG.debug("{} caught up: promoting it", learner);
                }
            }
        } catch (InterruptedException e) {
            LOG.debug("learner promotion stopped");
        }
    }

    /** A learner whose log reached the commit index, while this node leads and no other change is running. */
    private Member aLearnerThatCaughtUp() {
        RaftGroupMembers committed = raftNode.getCommittedMembers();
        if (!local.equals(raftNode.getTerm().getLeaderEndpoint())
                || committed.getMembers().size() == committed.getVotingMembers().size()
                || committed.getLogIndex() != raftNode.getEffectiveMembers().getLogIndex()) {
            return null;
        }
        RaftNodeReport now = report.get();
        if (now == null || now.getRole() != RaftRole.LEADER) {
            return null;
        }
        Map<RaftEndpoint, Long> matchIndices = now.getLog().getFollowerMatchIndices();
        for (RaftEndpoint e : committed.getMembers()) {
            Long match = matchIndices.get(e);
            // MicroRaft starts a learner's match index at 0 until it acknowledges entries: within CAUGHT_UP_WITHIN
            // of a young log's commit index, but it is the index of a node that may not even run yet.
            if (!committed.getVotingMembers().contains(e) && match != null && match > 0
                    && match >= now.getLog().getCommitIndex() - CAUGHT_UP_WITHIN) {
                return (Member) e;
            }
        }
        return null;
    }
}
