package io.metcd.raft;

import io.microraft.RaftEndpoint;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.RaftMessage;
import io.microraft.transport.Transport;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Works around a MicroRaft 0.7 bug (fixed only in the unreleased 0.8): a follower rejects, forever, an
 * AppendEntries whose previous log index lies inside its snapshot unless that index is its last entry,
 * because the entry is no longer in its log to compare terms with. A node that restarted with a snapshot
 * and uncommitted entries after it (an old leader coming back) then never catches up.
 * <p>
 * Raft already answers the question MicroRaft cannot: everything up to the follower's snapshot index was
 * committed, so it matches the leader's log. Such a request is therefore rewritten before MicroRaft sees
 * it: the entries the snapshot covers are dropped and the consistency check is skipped (previous index 0),
 * which makes MicroRaft append the rest with its usual conflict truncation. MicroRaft then reports a last
 * log index counted from 0, so this class, as the transport MicroRaft sends through, adds the snapshot
 * index back to that one success response (matched by its flow-control sequence number). The rewritten
 * request carries commit index 0: MicroRaft would otherwise take the minimum of the leader's commit index
 * and its 0-based count, which can lie below the follower's commit index; the next request, whose previous
 * index is past the snapshot, advances the commit index as usual.
 */
final class SnapshotBoundaryFix implements Transport {
    private static final DefaultRaftModelFactory MODEL = new DefaultRaftModelFactory();
    /** Rewrites whose response never came (a stale term, a lost request) must not pile up. */
    private static final int MAX_PENDING_REWRITES = 64;

    private final Transport transport;
    private final LongSupplier snapshotIndex;
    /** Snapshot index subtracted from a rewritten request, by the request's flow-control sequence number. */
    private final Map<Long, Long> offsets = new ConcurrentHashMap<>();

    /**
     * @param snapshotIndex this node's current snapshot index as MicroRaft's log has it; a value that lags
     *                      behind only makes the rewrite rarer, never wrong
     */
    SnapshotBoundaryFix(Transport transport, LongSupplier snapshotIndex) {
        this.transport = transport;
        this.snapshotIndex = snapshotIndex;
    }

    /** The request MicroRaft should handle instead of {@code request}. */
    AppendEntriesRequest rewrite(AppendEntriesRequest request) {
        long snapshot = snapshotIndex.getAsLong();
        long previous = request.getPreviousLogIndex();
        if (previous == 0 || previous > snapshot) {
            return request;
        }
        List<LogEntry> after = new ArrayList<>(request.getLogEntries().size());
        for (LogEntry entry : request.getLogEntries()) {
            if (entry.getIndex() > snapshot) {
                after.add(entry);
            }
        }
        if (offsets.size() >= MAX_PENDING_REWRITES) {
            offsets.clear();
        }
        offsets.put(request.getFlowControlSequenceNumber(), snapshot);
        return MODEL.createAppendEntriesRequestBuilder().setGroupId(request.getGroupId())
                .setSender(request.getSender()).setTerm(request.getTerm()).setPreviousLogTerm(0)
                .setPreviousLogIndex(0).setCommitIndex(0).setLogEntries(after)
                .setQuerySequenceNumber(request.getQuerySequenceNumber())
                .setFlowControlSequenceNumber(request.getFlowControlSequenceNumber()).build();
    }

    @Override
    public void send(RaftEndpoint target, RaftMessage message) {
        if (message instanceof AppendEntriesSuccessResponse response) {
            Long offset = offsets.remove(response.getFlowControlSequenceNumber());
            if (offset != null) {
                message = MODEL.createAppendEntriesSuccessResponseBuilder().setGroupId(response.getGroupId())
                        .setSender(response.getSender()).setTerm(response.getTerm())
                        .setLastLogIndex(response.getLastLogIndex() + offset)
                        .setQuerySequenceNumber(response.getQuerySequenceNumber())
                        .setFlowControlSequenceNumber(response.getFlowControlSequenceNumber()).build();
            }
        }
        transport.send(target, message);
    }

    @Override
    public boolean isReachable(RaftEndpoint endpoint) {
        return transport.isReachable(endpoint);
    }
}
