package io.metcd.raft;

import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.log.RaftLog;
import io.microraft.impl.util.ArrayRingbuffer;
import io.microraft.model.log.LogEntry;
import io.microraft.report.RaftNodeReport;
import io.microraft.report.RaftNodeReportListener;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Works around a MicroRaft 0.7 bug (0.8 and its main branch the same): a snapshot can move the start of the log back
 * over entries an earlier snapshot dropped, so the log claims entries it no longer holds.
 * <p>
 * After a snapshot MicroRaft keeps some entries before its index for followers that lag a little, as many as it then
 * thinks they need, forgetting what earlier snapshots dropped: (1) a leader whose followers all hold the snapshot's
 * index keeps nothing before it, yet at its next snapshot keeps the entry at that index for a follower that stopped
 * there (it keeps one entry before each follower's match index); (2) a follower, or a leader that does not know every
 * follower's log yet, keeps a tenth of a snapshot interval, much of which an earlier snapshot taken as a leader may
 * have dropped. metcd's snapshots, every {@code --snapshot-count} writes at whatever index, come beside MicroRaft's
 * own (every interval of entries), so two snapshots a few entries apart are common. MicroRaft empties the slots it
 * drops; moving the start back brings them back into the log. A leader that builds a request for a follower whose
 * next entry follows such a slot (a follower killed, or cut off, where the first snapshot found it) fails on it, on
 * every heartbeat and, in a broadcast, before it reaches the followers after that one; whatever the failure
 * interrupts is left half done (a read's heartbeat round: {@link HeartbeatRounds}). A chaos run met it
 * ({@code SnapshotTruncationFixTest}).
 * <p>
 * This listener runs first among the node's report listeners: MicroRaft publishes a report on its Raft thread right
 * after it truncates for a snapshot, before anything reads the log again. It moves the start of the log forward past
 * the empty slots there: only a truncation empties a slot, so they are entries a snapshot dropped, and the log's start
 * stays where the earlier snapshot left it. A follower that needs one of them is sent the snapshot instead, as
 * MicroRaft does for any entry before the log's start. MicroRaft gives no access to where its log starts but through
 * its ring buffer's head, so this reads its private field (MicroRaft is pinned; the handle is looked up, and checked,
 * when the class loads).
 */
final class SnapshotTruncationFix implements RaftNodeReportListener {
    private static final VarHandle RING = ringHandle();

    private final RaftNodeReportListener next;
    private RaftNodeImpl node;

    /** @param next the node's own report listener, called after this one */
    SnapshotTruncationFix(RaftNodeReportListener next) {
        this.next = next;
    }

    /** The node whose reports this listens to; before it starts. */
    void attach(RaftNodeImpl raftNode) {
        this.node = raftNode;
    }

    @Override
    public void accept(RaftNodeReport report) {
        try {
            if (report.getReason() == RaftNodeReport.RaftNodeReportReason.TAKE_SNAPSHOT) {
                skipEmptySlots(node.state().log());
            }
        } finally {
            next.accept(report);
        }
    }

    /** Moves the start of {@code log} past the slots at its start that hold no entry, or not the entry of theirs. */
    @SuppressWarnings("unchecked")
    private static void skipEmptySlots(RaftLog log) {
        ArrayRingbuffer<LogEntry> ring = (ArrayRingbuffer<LogEntry>) RING.get(log);
        long sequence = ring.headSequence();
        // RaftLog keeps the entry of index i at sequence i - 1.
        while (sequence <= ring.tailSequence() && !holdsItsEntry(ring.read(sequence), sequence + 1)) {
            sequence++;
        }
        ring.setHeadSequence(sequence);
    }

    private static boolean holdsItsEntry(LogEntry slot, long index) {
        return slot != null && slot.getIndex() == index;
    }

    private static VarHandle ringHandle() {
        try {
            return MethodHandles.privateLookupIn(RaftLog.class, MethodHandles.lookup())
                    .findVarHandle(RaftLog.class, "log", ArrayRingbuffer.class);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("MicroRaft's RaftLog keeps its entries elsewhere than this fix, written "
                    + "for MicroRaft 0.7, expects: check SnapshotTruncationFix against the version in use", e);
        }
    }
}
