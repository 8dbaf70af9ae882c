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
 * when it is not the one being written and all its log entries are at or below the index compacted up to, which is
 * never past the newest durable snapshot; files go oldest first and the first one that must stay stops the deletion,
 * so that no truncation marker outlives what it applies to. The current endpoint, initial members and term are
 * appended again and synced first, since the deleted files may hold their only copies.
 */
final class Compaction {
    private static final Logger LOG = LoggerFactory.getLogger(Compaction.class);

    private final Path dir;
    private final CycleLog log;

    Compaction(Path dir, CycleLog log) {
        this.dir = dir;
        this.log = log;
    }

    /**
     * @param upTo     the index up to which no entry is needed any more: covered by a durable snapshot
     * @param identity the latest endpoint, initial members and term records (those written), to copy forward
     */
    void compact(long upTo, List<byte[]> identity) throws IOException {
        List<Integer> doomed = new ArrayList<>();
        for (Map.Entry<Integer, CycleLog.CycleStats> e : log.cycles().entrySet()) {
            if (e.getKey() >= log.currentCycle() || e.getValue().maxEntryIndex > upTo) {
                break;
            }
            doomed.add(e.getKey());
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
        LOG.debug("Raft log in {}: deleted {} cycle file(s) up to cycle {}, entries up to {}", dir, doomed.size(),
                doomed.get(doomed.size() - 1), upTo);
    }
}
