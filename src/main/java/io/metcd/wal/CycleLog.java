package io.metcd.wal;

import io.metcd.codec.Writer;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueStore;
import net.openhft.chronicle.wire.DocumentContext;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * The Chronicle queue under the WAL, as cycle files of bounded size: records are sealed with their CRC and appended,
 * synced, and moved on to a new cycle file once the current one is full. Chronicle rolls cycles by its clock; the
 * clock here ticks when a cycle is full. The stats of every cycle file tell compaction what it may delete.
 * <p>
 * Not thread-safe: the owner restores, then only the Raft thread appends (MicroRaft's executor orders them); other
 * threads only read through tailers of their own.
 */
final class CycleLog implements AutoCloseable {
    private static final long MIN_BLOCK_SIZE = 1L << 20;

    /** Compaction's view of one cycle file. */
    static final class CycleStats {
        long bytes;
        long maxEntryIndex;
    }

    private final long cycleBytes;
    private final long maxRecordBytes;
    private final LogicalClock clock;
    private final SingleChronicleQueue queue;
    private final RollCycle rollCycle;
    private final ExcerptAppender appender;
    private final Writer out = new Writer(64 * 1024);
    /** The appender's checksum. */
    private final CRC32C crc = new CRC32C();
    /** Every cycle file still on disk, oldest first. */
    private final TreeMap<Integer, CycleStats> cycles = new TreeMap<>();
    private volatile LongConsumer syncTimes = nanos -> { };

    CycleLog(Path dir, long cycleBytes) {
        this.cycleBytes = cycleBytes;
        // A cycle file must stay inside Chronicle's first mapped block, so that appender.sync() (which syncs only the
        // block being written) covers every record of the cycle; and a document may not outgrow the block overlap.
        long blockSize = Math.max(MIN_BLOCK_SIZE, 4 * cycleBytes);
        this.maxRecordBytes = blockSize / 4;
        this.clock = new LogicalClock(RollCycles.FAST_DAILY.lengthInMillis());
        this.queue = SingleChronicleQueueBuilder.binary(dir)
                .rollCycle(RollCycles.FAST_DAILY)
                .timeProvider(clock)
                .blockSize(blockSize)
                .syncMode(SyncMode.SYNC)
                .build();
        this.rollCycle = queue.rollCycle();
        clock.cycle = Math.max(queue.lastCycle(), 0);
        this.appender = queue.createAppender();
        // The owner restores and the Raft thread appends; MicroRaft's executor already orders them.
        appender.singleThreadedCheckDisabled(true);
    }

    /** The largest record a cycle can take. */
    long maxRecordBytes() {
        return maxRecordBytes;
    }

    /** The queue, for reading it with tailers of one's own. */
    SingleChronicleQueue queue() {
        return queue;
    }

    /** Starts the next record, with {@code tag}; its payload follows. */
    Writer begin(byte tag) {
        return out.reset().i32(0).u8(tag);
    }

    /** Seals the record begun and appends it; returns the stats of its cycle. */
    CycleStats append() throws IOException {
        int length = out.length();
        if (length > maxRecordBytes) {
            throw new IOException("a record of " + length + " bytes is larger than the " + maxRecordBytes
                    + " bytes a cycle of this log can take");
        }
        rollIfFull();
        crc.reset();
        crc.update(out.array(), 4, length - 4);
        out.putI32(0, (int) crc.getValue());
        return write(out.array(), length);
    }

    /** The record last appended, header included. */
    byte[] lastRecord() {
        return out.toByteArray();
    }

    /** Appends a record already sealed, as it is. */
    void appendSealed(byte[] record) throws IOException {
        rollIfFull();
        write(record, record.length);
    }

    private CycleStats write(byte[] record, int length) {
        try (DocumentContext dc = appender.writingDocument()) {
            try {
                dc.wire().bytes().write(record, 0, length);
            } catch (RuntimeException | Error e) {
                dc.rollbackOnClose();
                throw e;
            }
        }
        CycleStats stats = statsOf(appender.lastIndexAppended());
        stats.bytes += length;
        return stats;
    }

    /** Msyncs up to the write position; fails if Chronicle reports the msync failed (it does not throw). */
    void sync() throws IOException {
        long start = System.nanoTime();
        ChronicleErrors.failOnReport(appender::sync);
        syncTimes.accept(System.nanoTime() - start);
    }

    /**
     * Moves writes to a new cycle once the current one is big enough. Syncs first: appender.sync() reaches only
     * the cycle being written, so a cycle must be durable before it is left behind.
     */
    void rollIfFull() throws IOException {
        CycleStats current = cycles.get(clock.cycle);
        if (current != null && current.bytes >= cycleBytes) {
            sync();
            clock.cycle++;
        }
    }

    /** The stats of the cycle that holds the record at Chronicle index {@code at}. */
    CycleStats statsOf(long at) {
        return cycles.computeIfAbsent(rollCycle.toCycle(at), c -> new CycleStats());
    }

    /** The cycle being written. */
    int currentCycle() {
        return clock.cycle;
    }

    /** Every cycle file on disk, oldest first. */
    NavigableMap<Integer, CycleStats> cycles() {
        return cycles;
    }

    /** Deletes the file of {@code cycle}, which must not be the one being written. */
    void delete(int cycle) throws IOException {
        SingleChronicleQueueStore store = queue.storeForCycle(cycle, queue.epoch(), false, null);
        if (store != null) {
            File file = store.file();
            queue.closeStore(store);
            Files.deleteIfExists(file.toPath());
        }
        cycles.remove(cycle);
    }

    /** Has Chronicle look at the directory again, after cycle files were deleted. */
    void refresh() {
        queue.refreshDirectoryListing();
    }

    /** Where Chronicle would append next in {@code cycle}. */
    long writePosition(int cycle) {
        SingleChronicleQueueStore store = queue.storeForCycle(cycle, queue.epoch(), false, null);
        try {
            return store.writePosition();
        } finally {
            queue.closeStore(store);
        }
    }

    /** Tells {@code observer} how long each msync takes, in nanoseconds. */
    void reportSyncTimes(LongConsumer observer) {
        this.syncTimes = observer;
    }

    @Override
    public void close() {
        try {
            appender.close();
        } finally {
            queue.close();
        }
    }

    /** Chronicle's clock, which moves to the next cycle when told to. */
    private static final class LogicalClock implements TimeProvider {
        private final long cycleMillis;
        volatile int cycle;

        LogicalClock(long cycleMillis) {
            this.cycleMillis = cycleMillis;
        }

        @Override
        public long currentTimeMillis() {
            return cycle * cycleMillis;
        }

        @Override
        public long currentTimeMicros() {
            return currentTimeMillis() * 1_000;
        }

        @Override
        public long currentTimeNanos() {
            return currentTimeMillis() * 1_000_000;
        }
    }
}
