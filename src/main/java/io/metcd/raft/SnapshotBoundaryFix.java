package io.metcd.raft;

import io.microraft.RaftEndpoint;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.handler.AppendEntriesRequestHandler;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.RaftMessage;
import io.microraft.transport.Transport;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;

/**
 * Works around a MicroRaft 0.7 bug (fixed in 0.8, which no registry here serves): a follower rejects, forever, an
 * AppendEntries whose previous log index lies inside its snapshot unless that index is its last entry, because the
 * entry is no longer in its log to compare terms with. A node that restarted with a snapshot and uncommitted entries
 * after it (an old leader coming back) then never catches up. Pointing the request at the snapshot index instead does
 * not help: 0.7 looks that index up among the log entries too, and finds none while entries follow the snapshot.
 * <p>
 * Raft already answers the question MicroRaft cannot: everything up to the follower's snapshot index was committed,
 * so it matches the leader's log. Such a request is therefore rewritten before MicroRaft handles it: the entries the
 * snapshot covers are dropped and the consistency check is skipped (previous index 0), which makes MicroRaft append
 * the rest with its usual conflict truncation. MicroRaft then counts the last log index of its answer from 0, so the
 * snapshot index is added back to that answer, and to nothing else.
 * <p>
 * The rewrite and MicroRaft's handling run as one task on the Raft thread, during which MicroRaft sends its answer
 * through this transport: so the rewrite reads the exact snapshot index, and the offset exists only while that one
 * request is handled. A request refused (a stale term) leaves nothing behind for a later answer to pick up. During
 * that task MicroRaft sends nothing else than the one answer: a success, or a failure that carries no log index.
 * <p>
 * The rewritten request carries commit index 0: MicroRaft would otherwise take the minimum of the leader's commit
 * index and its 0-based count, which can lie below the follower's commit index; the next request, whose previous
 * index is past the snapshot, advances the commit index as usual.
 */
final class SnapshotBoundaryFix implements Transport {
    private static final DefaultRaftModelFactory MODEL = new DefaultRaftModelFactory();

    private final Transport transport;
    private RaftNodeImpl node;
    // Only the Raft thread reads or writes these: the task below, and MicroRaft's sends from within it.
    /** The snapshot index to add to the success answer of the rewritten request being handled, else 0. */
    private long offset;
    /** Who sent the rewritten request being handled: the answer goes there. */
    private RaftEndpoint answerTo;

    /** @param transport where MicroRaft's messages go, the answers to rewritten requests once corrected */
    SnapshotBoundaryFix(Transport transport) {
        this.transport = transport;
    }

    /** The node whose append requests {@link #handle} hands over; before it starts. */
    void attach(RaftNodeImpl raftNode) {
        this.node = raftNode;
    }

    /** Hands an append request to MicroRaft, to be handled on its Raft thread, rewritten if it needs to be. */
    void handle(AppendEntriesRequest request) {
        try {
            node.getExecutor().execute((RaftClockExecutor.MessageHandling) () -> handleOnRaftThread(request));
        } catch (RejectedExecutionException e) {
            // The node has terminated: MicroRaft would drop the message too.
        }
    }

    private void handleOnRaftThread(AppendEntriesRequest request) {
        long snapshot = node.state().log().snapshotIndex();
        long previous = request.getPreviousLogIndex();
        if (previous == 0 || previous > snapshot) {
            new AppendEntriesRequestHandler(node, request).run();
            return;
        }
        offset = snapshot;
        answerTo = request.getSender();
        try {
            new AppendEntriesRequestHandler(node, withoutSnapshottedEntries(request, snapshot)).run();
        } finally {
            offset = 0;
            answerTo = null;
        }
    }

    private static AppendEntriesRequest withoutSnapshottedEntries(AppendEntriesRequest request, long snapshot) {
        List<LogEntry> after = new ArrayList<>(request.getLogEntries().size());
        for (LogEntry entry : request.getLogEntries()) {
            if (entry.getIndex() > snapshot) {
                after.add(entry);
            }
        }
        return MODEL.createAppendEntriesRequestBuilder().setGroupId(request.getGroupId())
                .setSender(request.getSender()).setTerm(request.getTerm()).setPreviousLogTerm(0)
                .setPreviousLogIndex(0).setCommitIndex(0).setLogEntries(after)
                .setQuerySequenceNumber(request.getQuerySequenceNumber())
                .setFlowControlSequenceNumber(request.getFlowControlSequenceNumber()).build();
    }

    @Override
    public void send(RaftEndpoint target, RaftMessage message) {
        if (offset > 0 && message instanceof AppendEntriesSuccessResponse response && target.equals(answerTo)) {
            message = MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(response.getGroupId())
                    .setSender(response.getSender()).setTerm(response.getTerm())
                    .setLastLogIndex(response.getLastLogIndex() + offset)
                    .setQuerySequenceNumber(response.getQuerySequenceNumber())
                    .setFlowControlSequenceNumber(response.getFlowControlSequenceNumber()).build();
            offset = 0;
        }
        transport.send(target, message);
    }

    @Override
    public boolean isReachable(RaftEndpoint endpoint) {
        return transport.isReachable(endpoint);
    }
}
