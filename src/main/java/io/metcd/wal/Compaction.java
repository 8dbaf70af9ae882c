package io.metcd.wal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Frees disk space: deletes the oldest cycle files that hold nothing restore needs any more. A cycle file goes only
 * when it is not the one being written, it is older than the cycle holding the first chunk of the newest complete
 * snapshot (or of a snapshot a store is still loading), all its log entries are at or below both that snapshot and
 * the index compacted up to, and it holds no chunk of a newer snapshot; files go oldest first and the first one that
 * must stay stops the deletion, so that no truncation or deletion marker outlives what it applies to. The current
 * endpoint, initial members and term are appended again and synced first, since the deleted files may hold their
 * only copies.
 */
final class Compaction {
    private static final Logger LOG = LoggerFactory.getLogger(Compaction.class);

    private final Path dir;
    private final CycleLog log;
    private final SnapshotIndex snapshots;

    Compaction(Path dir, CycleLog log, SnapshotIndex snapshots) {
        this.dir = dir;
        this.log = log;
        this.snapshots = snapshots;
    }

    /**
     * @param upTo     the index up to which MicroRaft needs no entries any more
     * @param identity the latest endpoint, initial members and term records (those written), to copy forward
     */
    void compact(long upTo, List<byte[]> identity) throws IOException {
        SnapshotIndex.ChunkSet snapshot = snapshots.newestComplete();
        if (snapshot == null) {
            return;
        }
        long entryLimit = Math.min(upTo, snapshot.index);
        int firstChunkCycle = snapshots.firstCycleToKeep(snapshot, log::cycleOf);
        List<Integer> doomed = new ArrayList<>();
        for (Map.Entry<Integer, CycleLog.CycleStats> e : log.cycles().entrySet()) {
            int cycle = e.getKey();
            CycleLog.CycleStats stats = e.getValue();
            if (cycle >= log.currentCycle() || cycle >= firstChunkCycle || stats.maxEntryIndex > entryLimit
                    || stats.maxChunkSnapshotIndex > snapshot.index) {
                break;
            }
            doomed.add(cycle);
        }
        if (doomed.isEmpty()) {
            return;
        }
        for (byte[] record : identity) {
            log.appendSealed(record);
        }
        log.sync();
        for (int cycle : doomed) {
            log.delete(cycle);
        }
        log.refresh();
        snapshots.forgetOlderThan(snapshot.index);
        LOG.debug("Raft log in {}: deleted {} cycle file(s) up to cycle {} after the snapshot at {}", dir,
                doomed.size(), doomed.get(doomed.size() - 1), snapshot.index);
    }
}
