package io.metcd.wal;

import io.metcd.model.StateView;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * One snapshot of {@link SnapshotFiles}, from the moment it is begun or its first chunk arrives until it is given up:
 * its state, which chunks are written (with their lengths and CRCs) and who waits for them.
 * <p>
 * <b>Locking:</b> a plain record of fields without a lock of its own. Every mutable field is guarded by the monitor of
 * the {@link SnapshotFiles} it belongs to, the one lock of the snapshot files. {@link #meta} is a future, safe on any
 * thread; and the one thread that fills a snapshot reads back without the lock what it set under it: the writer the
 * view, lengths and CRCs of the snapshot it took ({@link State#WRITING}), the Raft thread the channel of one it
 * receives.
 */
final class SnapshotFile {
    enum State {
        /** Taken here; the store has not reached its index yet. */
        BEGUN,
        /** Taken here; its view waits for the writer. */
        VIEW_OPEN,
        WRITING,
        /** Received, with chunks still missing. */
        RECEIVING,
        DURABLE,
        /** Given up or deleted: it will never be read again. */
        GONE
    }

    /** The term and members MicroRaft gives a snapshot, in its chunks: written into the trailer. */
    record Meta(int term, RaftGroupMembersView members) {
    }

    /** Writing the snapshot stopped because it was given up: a newer one replaced it, or closing stopped it. */
    static final class Abandoned extends IOException {
        Abandoned(long index) {
            super("the snapshot at " + index + " was given up");
        }
    }

    final long index;
    final int chunkCount;
    final Path path;
    final int[] lengths;
    final int[] crcs;
    final boolean[] present;
    int presentCount;
    State state;
    StateView view;
    final CompletableFuture<Meta> meta = new CompletableFuture<>();
    /** Where the store hands the view of a snapshot taken here. */
    Consumer<StateView> viewTarget;
    /** Open while chunks are written into the file: by the writer, or by the Raft thread as they arrive. */
    FileChannel channel;
    int holds;
    final Map<Integer, List<CompletableFuture<Void>>> readableWaiters = new TreeMap<>();

    SnapshotFile(long index, int chunkCount, Path path, State state) {
        this.index = index;
        this.chunkCount = chunkCount;
        this.path = path;
        this.state = state;
        this.lengths = new int[chunkCount];
        this.crcs = new int[chunkCount];
        this.present = new boolean[chunkCount];
    }

    /** The durable snapshot whose file {@code path} ends with {@code trailer}: every chunk present. */
    static SnapshotFile durable(Path path, SnapshotFileLayout.Trailer trailer) {
        int count = trailer.lengths().length;
        SnapshotFile s = new SnapshotFile(trailer.index(), count, path, State.DURABLE);
        System.arraycopy(trailer.lengths(), 0, s.lengths, 0, count);
        System.arraycopy(trailer.crcs(), 0, s.crcs, 0, count);
        Arrays.fill(s.present, true);
        s.presentCount = count;
        s.meta.complete(new Meta(trailer.term(), trailer.members()));
        return s;
    }

    /** Records the term and members that {@code chunk}, one of this snapshot's, tells; the first one told wins. */
    void describe(SnapshotChunk chunk) {
        meta.complete(new Meta(chunk.getTerm(), chunk.getGroupMembersView()));
    }

    /** What this snapshot's trailer says, once all its chunks are written. */
    SnapshotFileLayout.Trailer trailer(Meta m) {
        return new SnapshotFileLayout.Trailer(index, m.term(), m.members(), lengths, crcs);
    }

    /** SHA-256 over the chunks' lengths and CRCs, empty chunks left out (see {@link SnapshotFiles#digest}). */
    String sha256() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer pair = ByteBuffer.allocate(2 * Integer.BYTES);
            for (int k = 0; k < chunkCount; k++) {
                if (lengths[k] > 0) {
                    sha.update(pair.clear().putInt(lengths[k]).putInt(crcs[k]).flip());
                }
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    long streamBytes() {
        long total = 0;
        for (int length : lengths) {
            total += length;
        }
        return total;
    }

    boolean complete() {
        return presentCount == chunkCount;
    }
}
