package io.metcd.wal;

import io.metcd.model.CrashPoint;
import io.metcd.model.Operation;
import io.microraft.model.log.SnapshotChunk;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;

/**
 * The receiving side of {@link SnapshotFiles}: chunks that come in the heap (from the leader) are written where they
 * belong in their snapshot's file as MicroRaft persists them, forced to disk in the background by a syncer thread, and
 * the snapshot becomes durable on the {@link #syncReceived} that follows its last chunk: what MicroRaft's flush after
 * a completed snapshot expects.
 * <p>
 * <b>Locking:</b> none of its own. Which snapshot a chunk belongs to, which chunks are present and which files wait
 * for the syncer are {@link SnapshotFiles}' state, changed only through its methods under its one lock; the writes
 * and syncs run outside it.
 */
final class SnapshotReceiver {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotReceiver.class);

    private final SnapshotFiles files;
    private final int chunkBytes;

    SnapshotReceiver(SnapshotFiles files, int chunkBytes) {
        this.files = files;
        this.chunkBytes = chunkBytes;
    }

    /** See {@link SnapshotFiles#persist}. Raft thread. */
    void persist(SnapshotChunk chunk) throws IOException {
        Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();
        long index = chunk.getIndex();
        int k = chunk.getSnapshotChunkIndex();
        int count = chunk.getSnapshotChunkCount();
        if (count <= 0 || k < 0 || k >= count) {
            throw new IOException("bad snapshot chunk " + k + " of " + count + " at " + index);
        }
        if (part.liesIn(files)) {
            files.describe(chunk);
            return;
        }
        byte[] bytes = part.bytes();
        if (bytes.length > chunkBytes) {
            throw new IOException("snapshot chunk " + k + " at " + index + " holds " + bytes.length
                    + " bytes, more than a chunk's " + chunkBytes);
        }
        SnapshotFile s = files.receiving(index, count);
        s.describe(chunk);
        SnapshotFileLayout.writeFully(s.channel, ByteBuffer.wrap(bytes), SnapshotFileLayout.offset(k, chunkBytes));
        files.chunkPresent(s, k, bytes.length, SnapshotFileLayout.crc(bytes, bytes.length));
        part.movedTo(files, index, k);
        int present = files.awaitSync(s);
        if (count >= 2 && present == (count + 1) / 2) {
            CrashPoint.SNAPSHOT_HALF_RECEIVED.reached();
        }
    }

    /**
     * The syncer thread's body: forces received chunks to disk in the background, so that the sync that makes them
     * durable has little left. Returns once the files close.
     */
    void syncInBackground() {
        while (true) {
            List<SnapshotFile> batch;
            try {
                batch = files.nextToSync();
            } catch (InterruptedException e) {
                return;
            }
            if (batch == null) {
                return;
            }
            for (SnapshotFile s : batch) {
                FileChannel channel = files.channelOf(s);
                try {
                    if (channel != null) {
                        channel.force(false);
                    }
                } catch (IOException e) {
                    // The sync that makes the snapshot durable reports it; this one was only ahead of time.
                    LOG.debug("background sync of the snapshot at {} failed", s.index, e);
                }
            }
        }
    }

    /** See {@link SnapshotFiles#syncReceived}. Raft thread. */
    void syncReceived() throws IOException {
        for (SnapshotFile s : files.receivedInFull()) {
            files.makeDurable(s, s.channel, s.meta.join());
            CrashPoint.SNAPSHOT_RECEIVED.reached();
        }
    }
}
