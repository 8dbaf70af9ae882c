package io.metcd.raft;

import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.handler.AppendEntriesFailureResponseHandler;
import io.microraft.impl.handler.AppendEntriesSuccessResponseHandler;
import io.microraft.impl.handler.InstallSnapshotResponseHandler;
import io.microraft.model.message.AppendEntriesFailureResponse;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.InstallSnapshotResponse;
import io.microraft.model.message.RaftMessage;

import java.util.concurrent.RejectedExecutionException;

/**
 * Works around a MicroRaft 0.7 gap (0.8 the same): a leader acts on the answers to its append and install-snapshot
 * requests whatever their term, when Raft discards those of an earlier term. Such an answer was sent to this node as
 * the leader of an earlier term and held up on the way (a partition that heals, TCP retransmitting, a link that
 * delivers late); reaching it once it leads again in a later term, MicroRaft would count it for that term's heartbeat
 * round of the same number (the numbers start again at 1 in each term), so a read could be confirmed by an answer sent
 * before it was asked, as {@link HeartbeatRounds} must prevent; and it would take the follower's last index then as
 * its match index now, though past the commit index this node's log may have changed since (a leader in between
 * replaced its uncommitted entries), and so could count that follower towards committing an entry it does not hold.
 * <p>
 * These answers are therefore handed to MicroRaft's own handlers on the Raft thread, as MicroRaft would, but dropped
 * when their term is below the node's: the check and the handling are one task, so the term cannot change between.
 * An answer to a request of the current term always carries that term (a follower takes the term of a request before
 * answering it). {@code ReadIndexRoundsTest} fails without this.
 */
final class StaleResponseFix {
    private final RaftNodeImpl node;

    StaleResponseFix(RaftNodeImpl node) {
        this.node = node;
    }

    /** Whether {@link #handle} takes {@code message}: an answer to a leader's request. */
    static boolean answersALeader(RaftMessage message) {
        return message instanceof AppendEntriesSuccessResponse || message instanceof AppendEntriesFailureResponse
                || message instanceof InstallSnapshotResponse;
    }

    /** Hands {@code answer}, one that {@link #answersALeader}, to MicroRaft on its Raft thread, unless it is stale. */
    void handle(RaftMessage answer) {
        Runnable handler = switch (answer) {
            case AppendEntriesSuccessResponse r -> new AppendEntriesSuccessResponseHandler(node, r);
            case AppendEntriesFailureResponse r -> new AppendEntriesFailureResponseHandler(node, r);
            case InstallSnapshotResponse r -> new InstallSnapshotResponseHandler(node, r);
            default -> throw new IllegalArgumentException("not an answer to a leader's request: " + answer);
        };
        try {
            node.getExecutor().execute((RaftClockExecutor.MessageHandling) () -> {
                if (answer.getTerm() >= node.state().term()) {
                    handler.run();
                }
            });
        } catch (RejectedExecutionException e) {
            // The node has terminated: MicroRaft would drop the message too.
        }
    }
}
