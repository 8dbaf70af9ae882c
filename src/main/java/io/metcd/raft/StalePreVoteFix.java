package io.metcd.raft;

import io.microraft.RaftRole;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.state.RaftState;
import io.microraft.impl.task.RaftNodeStatusAwareTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Works around a MicroRaft 0.7 bug (still in 0.8): a follower that hears of its leader while its own pre-vote is
 * out, without a change of term, keeps its pre-candidate state for the rest of that term (the pre-vote's timeout
 * task gives up once a leader is known, without clearing it). MicroRaft's heartbeat task checks the leader's silence
 * only when no pre-vote is out, so that follower never notices the leader fall silent: it neither pre-votes nor
 * lets a follower with a shorter log win, and the group has no leader until the old one returns. The last node to
 * start gets there: it votes in the first election, then pre-votes before the winner's first append reaches it.
 * <p>
 * Every heartbeat period, on the Raft thread, this does what MicroRaft's heartbeat task would have done: a follower
 * whose leader has been silent for the heartbeat timeout, with such a pre-vote left over, forgets the leader and
 * pre-votes again.
 */
final class StalePreVoteFix extends RaftNodeStatusAwareTask {
    private static final Logger LOG = LoggerFactory.getLogger(StalePreVoteFix.class);

    StalePreVoteFix(RaftNodeImpl node) {
        super(node);
    }

    /** Starts the periodic check; MicroRaft stops running it once the node terminates. */
    void start() {
        schedule();
    }

    @Override
    protected void doRun() {
        try {
            RaftState state = node.state();
            if (state.role() == RaftRole.FOLLOWER && state.leader() != null && state.preCandidateState() != null
                    && node.isLeaderHeartbeatTimeoutElapsed()) {
                LOG.warn("{} leader {} is silent, and a pre-vote of this term left over kept MicroRaft from noticing;"
                        + " pre-voting", localEndpointStr(), state.leader().getId());
                node.leader(null);
                node.runPreVote();
            }
        } finally {
            schedule();
        }
    }

    private void schedule() {
        try {
            node.getExecutor().schedule(this, node.getConfig().getLeaderHeartbeatPeriodSecs(), TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // The node has terminated.
        }
    }
}
