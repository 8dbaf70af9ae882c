package io.metcd.wal;

import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.wal.SnapshotFile.Abandoned;
import io.metcd.wal.SnapshotFile.Meta;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutionException;
import java.util.function.LongConsumer;

/**
 * The writer thread of {@link SnapshotFiles}: writes the view of each snapshot taken here into its file, chunk after
 * chunk, each made readable as soon as it is written (so that a follower can be sent the first chunks while the rest is
 * written), then has the snapshot made durable.
 * <p>
 * <b>Locking:</b> none of its own. It takes snapshots to write, and makes each chunk and the snapshot's end known, only
 * through {@link SnapshotFiles}' methods, under that one lock; its file I/O runs outside it, so that readers and the
 * Raft thread never wait for a disk write. A failure to write stops the node ({@link FailStop}): a node that cannot
 * snapshot would keep its log forever.
 */
final class SnapshotWriter {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotWriter.class);
    /**
     * Chunks written between two syncs of a snapshot's file (4 MiB with {@link SnapshotFiles#CHUNK_BYTES}), as a
     * database's "bytes per sync" does. Synced only at its end, a snapshot left the disk all of its state to write at
     * once, about 1 GB at 5 M keys and as much again on the other nodes (they snapshot at the same indices), and the
     * WAL's msyncs on the same disk waited behind it: 220-625 ms each, on the Raft thread, so that a leader's
     * heartbeats were late and its followers elected another (20 leader changes while 5 M keys were written).
     */
    static final int SYNC_EVERY_CHUNKS = 4;

    private final SnapshotFiles files;
    private final int chunkBytes;
    /**
     * Where each chunk is filled before it is written, for every snapshot this thread writes. A chunk's size is a
     * humongous object for G1 (half a region or more): allocated for each snapshot, it started a collection at a third
     * of the snapshots of a 5 M-key fill, just as the Raft thread took them.
     */
    private final byte[] buffer;
    private final FailStop failStop;
    private volatile LongConsumer writeTimes = nanos -> { };
    private volatile LongConsumer syncTimes = nanos -> { };

    SnapshotWriter(SnapshotFiles files, int chunkBytes, FailStop failStop) {
        this.files = files;
        this.chunkBytes = chunkBytes;
        this.buffer = new byte[chunkBytes];
        this.failStop = failStop;
    }

    /** Tells {@code observer} how long writing each snapshot took, in nanoseconds. */
    void reportWriteTimes(LongConsumer observer) {
        writeTimes = observer;
    }

    /** Tells {@code observer} how long each sync of a snapshot file being written took, in nanoseconds. */
    void reportSyncTimes(LongConsumer observer) {
        syncTimes = observer;
    }

    /** The thread's body: writes snapshots until the files close or writing one fails. */
    void writeSnapshots() {
        while (true) {
            SnapshotFile s;
            try {
                s = files.nextToWrite();
            } catch (InterruptedException e) {
                return;
            }
            if (s == null) {
                return;
            }
            try {
                write(s);
            } catch (Abandoned e) {
                LOG.debug("stopped writing the snapshot at {}: {}", s.index, e.getMessage());
                files.giveUpFile(s);
            } catch (IOException | RuntimeException | Error e) {
                files.giveUpFile(s);
                if (!files.isClosed()) {
                    failStop.stop("writing the snapshot at index " + s.index + " into " + s.path + " failed", e);
                }
                return;
            }
        }
    }

    private void write(SnapshotFile s) throws IOException {
        long start = System.nanoTime();
        Files.deleteIfExists(s.path);
        FileChannel channel = FileChannel.open(s.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        files.writingInto(s, channel);
        try (ChunkOutput out = new ChunkOutput(s, channel)) {
            s.view.writeTo(out);
            out.finish();
        } finally {
            s.view.close();
        }
        CrashPoint.SNAPSHOT_WRITTEN.reached();
        Meta meta;
        try {
            meta = s.meta.get();
        } catch (InterruptedException e) {
            throw new Abandoned(s.index);
        } catch (ExecutionException e) {
            throw new IOException("the snapshot at " + s.index + " has no term and members", e);
        }
        files.makeDurable(s, channel, meta);
        writeTimes.accept(System.nanoTime() - start);
        LOG.info("snapshot at index {} is durable: {} bytes of state in {} ms", s.index, s.streamBytes(),
                (System.nanoTime() - start) / 1_000_000);
    }

    /** The bytes of the view, cut into chunks, each written, checksummed and made readable as soon as it is full. */
    private final class ChunkOutput extends OutputStream {
        private final SnapshotFile s;
        private final FileChannel channel;
        private int filled;
        private int chunk;

        ChunkOutput(SnapshotFile s, FileChannel channel) {
            this.s = s;
            this.channel = channel;
        }

        @Override
        public void write(int b) throws IOException {
            if (filled == buffer.length) {
                writeChunk();
            }
            buffer[filled++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (filled == buffer.length) {
                    writeChunk();
                }
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
            }
        }

        private void writeChunk() throws IOException {
            if (chunk >= s.chunkCount) {
                throw new IOException("the state at index " + s.index + " outgrew the " + s.chunkCount + " chunks of "
                        + chunkBytes + " bytes its snapshot was given: the size bound is wrong");
            }
            files.ensureWanted(s);
            SnapshotFileLayout.writeFully(channel, ByteBuffer.wrap(buffer, 0, filled),
                    SnapshotFileLayout.offset(chunk, chunkBytes));
            files.chunkPresent(s, chunk, filled, SnapshotFileLayout.crc(buffer, filled));
            chunk++;
            filled = 0;
            if (chunk % SYNC_EVERY_CHUNKS == 0) {
                long start = System.nanoTime();
                channel.force(false);
                syncTimes.accept(System.nanoTime() - start);
            }
            if (s.chunkCount >= 2 && chunk == (s.chunkCount + 1) / 2) {
                CrashPoint.SNAPSHOT_HALF_WRITTEN.reached();
            }
        }

        /** Writes the last bytes; the chunks after them are empty. */
        void finish() throws IOException {
            if (filled > 0 || chunk == 0) {
                writeChunk();
            }
            for (; chunk < s.chunkCount; chunk++) {
                files.chunkPresent(s, chunk, 0, 0);
            }
        }

        @Override
        public void close() {
            // The channel outlives the stream: makeDurable closes it.
        }
    }
}
