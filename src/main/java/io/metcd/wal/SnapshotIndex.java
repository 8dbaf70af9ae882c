package io.metcd.wal;

import io.microraft.model.log.SnapshotChunk;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongToIntFunction;

/**
 * The snapshot chunks in the log, by snapshot index, each with the Chronicle index of the record that holds its
 * bytes. The chunks hold no bytes themselves, so every snapshot the log still has fits in the heap. Also which
 * snapshots a store is still loading: compaction keeps their chunks though newer snapshots replaced them.
 */
final class SnapshotIndex {
    private final TreeMap<Long, ChunkSet> byIndex = new TreeMap<>();
    /**
     * The first cycle holding chunks of each snapshot a store is still loading, by snapshot index: compaction keeps
     * it and what follows, though a newer snapshot has replaced that one meanwhile.
     */
    private final Map<Long, Integer> heldFromCycle = new ConcurrentHashMap<>();

    /** The chunks of one snapshot, as far as the log holds them. */
    static final class ChunkSet {
        final long index;
        final SnapshotChunk[] chunks;
        final long[] locations;
        int present;

        ChunkSet(long index, int count) {
            this.index = index;
            this.chunks = new SnapshotChunk[count];
            this.locations = new long[count];
            Arrays.fill(locations, -1);
        }

        boolean complete() {
            return present == locations.length;
        }

        /** The oldest cycle that holds bytes of these chunks, given the cycle of each Chronicle index. */
        int firstCycle(LongToIntFunction cycleOf) {
            int first = Integer.MAX_VALUE;
            for (long at : locations) {
                first = Math.min(first, cycleOf.applyAsInt(at));
            }
            return first;
        }
    }

    /** Adds {@code chunk}, whose bytes lie at Chronicle index {@code at}. */
    void add(SnapshotChunk chunk, long at) throws IOException {
        long index = chunk.getIndex();
        int chunkIndex = chunk.getSnapshotChunkIndex();
        int chunkCount = chunk.getSnapshotChunkCount();
        if (chunkCount <= 0 || chunkIndex < 0 || chunkIndex >= chunkCount) {
            throw new IOException("bad snapshot chunk " + chunkIndex + " of " + chunkCount + " at " + index);
        }
        ChunkSet set = byIndex.get(index);
        if (set == null || set.locations.length != chunkCount) {
            // A different chunk count means a different snapshot at the same index; it replaces the old one.
            set = new ChunkSet(index, chunkCount);
            byIndex.put(index, set);
        }
        if (set.locations[chunkIndex] < 0) {
            set.present++;
        }
        set.chunks[chunkIndex] = chunk;
        set.locations[chunkIndex] = at;
    }

    void delete(long index) {
        byIndex.remove(index);
    }

    /** The newest snapshot whose chunks are all in the log, or {@code null}. */
    ChunkSet newestComplete() {
        for (ChunkSet set : byIndex.descendingMap().values()) {
            if (set.complete()) {
                return set;
            }
        }
        return null;
    }

    long newestCompleteIndex() {
        ChunkSet set = newestComplete();
        return set != null ? set.index : 0;
    }

    /** Forgets the snapshots older than {@code index}, once compaction has deleted their files. */
    void forgetOlderThan(long index) {
        byIndex.headMap(index).clear();
    }

    /** Keeps the chunks of the complete snapshot at {@code index} from compaction until {@link #release}. */
    void hold(long index, LongToIntFunction cycleOf) {
        ChunkSet set = byIndex.get(index);
        if (set != null) {
            heldFromCycle.put(index, set.firstCycle(cycleOf));
        }
    }

    void release(long index) {
        heldFromCycle.remove(index);
    }

    /** The oldest cycle holding chunks that compaction must keep: those of {@code newest} and of held snapshots. */
    int firstCycleToKeep(ChunkSet newest, LongToIntFunction cycleOf) {
        int first = newest.firstCycle(cycleOf);
        for (int held : heldFromCycle.values()) {
            first = Math.min(first, held);
        }
        return first;
    }
}
