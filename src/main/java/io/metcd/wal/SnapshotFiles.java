package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Reader;
import io.metcd.codec.Writer;
import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.model.StateView;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * This node's snapshots, one file each ({@code snap-<index in hex>}) in a directory of their own. A snapshot is a
 * stream of bytes (the store's state, in the store's format) cut into MicroRaft's chunks: chunk {@code k} lies at
 * offset {@code k * chunkBytes} and holds up to {@code chunkBytes}; a file ends with a trailer giving the snapshot's
 * index, term, members and the length and CRC32C of every chunk. <b>A snapshot is durable once its trailer is written
 * and synced</b> after its chunks were; a file without a valid trailer is one a crash interrupted, and is deleted.
 * <p>
 * <b>Taken here.</b> On the Raft thread, {@link #begin} registers the snapshot with a fixed number of chunks (MicroRaft
 * wants the count at once: the taker gives an upper bound of the state's size, and trailing chunks may be empty). The
 * store, once it reaches the snapshot's index, hands over a {@link StateView} of that state ({@link #begin}'s consumer);
 * a writer thread of this class writes the view into the file, chunk after chunk (each readable as soon as it is
 * written, so a follower can be sent the first chunks while the rest is written), syncs it, and makes it durable. Only
 * the newest snapshot matters to MicroRaft: one taken while an older one waits for its writer replaces it; one being
 * written is finished, so that a durable snapshot keeps coming however fast they are taken.
 * <p>
 * <b>Received.</b> Chunks that come in the heap (from the leader) are written where they belong as they are persisted
 * ({@link #receive}), synced in the background, and the snapshot becomes durable on the {@link #syncReceived} that
 * follows its last chunk: what MicroRaft's flush after a completed snapshot expects.
 * <p>
 * <b>Deleting.</b> Once a snapshot is durable, older ones are deleted, but for those a store is still loading
 * ({@link #hold}): the WAL keeps its entries after the newest durable snapshot, so a restart never needs an older one.
 * <p>
 * Threads: the Raft thread begins, receives and syncs; the store's applier hands views over; the writer writes; any
 * thread reads chunks ({@link #readChunk}) and waits for them.
 */
public final class SnapshotFiles implements Operation.ChunkSource, AutoCloseable {
    /** The chunk size: large enough to amortise a chunk's round trip, small enough for one peer frame. */
    public static final int CHUNK_BYTES = 1 << 20;

    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFiles.class);
    private static final String PREFIX = "snap-";
    private static final int MAGIC = 0x4d534e50;
    private static final byte VERSION = 1;
    /** The trailer's length and the magic number again, at the very end of a durable file. */
    private static final int END_BYTES = 2 * Integer.BYTES;

    private final Path dir;
    private final int chunkBytes;
    private final FailStop failStop;
    private final Thread writer;
    private final Thread syncer;
    /** Every snapshot with a file, or about to have one. Guarded by this, as is all state of a {@link Snap}. */
    private final TreeMap<Long, Snap> snaps = new TreeMap<>();
    private final List<DurableWaiter> durableWaiters = new ArrayList<>();
    private volatile long newestDurable;
    private volatile LongConsumer writeTimes = nanos -> { };
    private boolean closed;
    /** Received snapshots with chunks written since the syncer last synced them. Guarded by this. */
    private final List<Snap> unsynced = new ArrayList<>();

    private enum State {
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
    private record Meta(int term, RaftGroupMembersView members) {
    }

    /** What the trailer of a durable snapshot says: what restore needs to give MicroRaft. */
    public record Descriptor(long index, int term, RaftGroupMembersView members, int chunkCount, long streamBytes) {
    }

    private record DurableWaiter(long index, CompletableFuture<Long> future) {
    }

    /** One snapshot; every field is guarded by the enclosing instance, but for what the writer and syncer own. */
    private static final class Snap {
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

        Snap(long index, int chunkCount, Path path, State state) {
            this.index = index;
            this.chunkCount = chunkCount;
            this.path = path;
            this.state = state;
            this.lengths = new int[chunkCount];
            this.crcs = new int[chunkCount];
            this.present = new boolean[chunkCount];
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

    /** The writer gave up a snapshot that a newer one replaced, or that closing stopped. */
    private static final class Abandoned extends IOException {
        Abandoned(long index) {
            super("the snapshot at " + index + " was given up");
        }
    }

    private SnapshotFiles(Path dir, int chunkBytes, FailStop failStop, String name) {
        this.dir = dir;
        this.chunkBytes = chunkBytes;
        this.failStop = failStop;
        this.writer = Thread.ofPlatform().daemon().name("snapshot-writer-" + name).unstarted(this::writeSnapshots);
        this.syncer = Thread.ofPlatform().daemon().name("snapshot-syncer-" + name).unstarted(this::syncReceivedChunks);
    }

    /**
     * Opens the snapshots in {@code dir} (creating it): keeps the newest durable one, deletes every other file.
     *
     * @param chunkBytes the size of a chunk ({@link #CHUNK_BYTES} but in tests)
     * @param failStop   stops the node if a snapshot cannot be written
     */
    public static SnapshotFiles open(Path dir, int chunkBytes, FailStop failStop) {
        SnapshotFiles files = new SnapshotFiles(dir, chunkBytes, failStop, dir.getParent().getFileName().toString());
        try {
            Files.createDirectories(dir);
            files.loadNewest();
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException("cannot open the snapshots in " + dir, e));
        }
        files.writer.start();
        files.syncer.start();
        return files;
    }

    private void loadNewest() throws IOException {
        List<Path> found;
        try (Stream<Path> list = Files.list(dir)) {
            found = list.filter(p -> p.getFileName().toString().startsWith(PREFIX)).sorted().toList();
        }
        Snap newest = null;
        for (Path path : found.reversed()) {
            Optional<Snap> durable = newest == null ? readTrailer(path) : Optional.empty();
            if (durable.isPresent()) {
                newest = durable.get();
            } else {
                LOG.info("deleting snapshot file {}: {}", path, newest == null ? "a crash interrupted it"
                        : "a newer snapshot is durable");
                Files.delete(path);
            }
        }
        if (newest != null) {
            snaps.put(newest.index, newest);
            newestDurable = newest.index;
        }
    }

    // ----------------------------------------------------------------------------------------------- restore

    /** The newest durable snapshot, if there is one. */
    public synchronized Optional<Descriptor> newest() {
        Snap s = snaps.get(newestDurable);
        if (s == null) {
            return Optional.empty();
        }
        Meta meta = s.meta.join();
        return Optional.of(new Descriptor(s.index, meta.term, meta.members, s.chunkCount, s.streamBytes()));
    }

    /** The index of the newest durable snapshot, 0 if there is none. */
    public long newestDurableIndex() {
        return newestDurable;
    }

    /** Completes, with the newest durable index, once a snapshot at {@code index} or later is durable. */
    public synchronized CompletableFuture<Long> whenDurable(long index) {
        if (newestDurable >= index) {
            return CompletableFuture.completedFuture(newestDurable);
        }
        CompletableFuture<Long> future = new CompletableFuture<>();
        durableWaiters.add(new DurableWaiter(index, future));
        return future;
    }

    /** How many bytes of state the durable snapshot at {@code index} holds, or -1 if there is no such snapshot. */
    public synchronized long streamBytes(long index) {
        Snap s = snaps.get(index);
        return s != null && s.state == State.DURABLE ? s.streamBytes() : -1;
    }

    /** A snapshot's index and a digest of its bytes. */
    public record Digest(long index, String sha256) {
    }

    /**
     * A digest of the newest durable snapshot's bytes (SHA-256 over its chunks' lengths and CRCs, empty chunks left
     * out): two nodes hold the same state at the same index exactly when their digests match.
     */
    public synchronized Optional<Digest> digest() {
        Snap s = snaps.get(newestDurable);
        if (s == null) {
            return Optional.empty();
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer pair = ByteBuffer.allocate(2 * Integer.BYTES);
            for (int k = 0; k < s.chunkCount; k++) {
                if (s.lengths[k] > 0) {
                    sha.update(pair.clear().putInt(s.lengths[k]).putInt(s.crcs[k]).flip());
                }
            }
            return Optional.of(new Digest(s.index, HexFormat.of().formatHex(sha.digest())));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------------------------------------ taking

    /**
     * Registers the snapshot at {@code index} that the Raft thread is taking, in {@code chunkCount} chunks; an older
     * one still waiting for the writer is given up. Returns what the store hands the view of that state to.
     */
    public synchronized Consumer<StateView> begin(long index, int chunkCount) {
        if (chunkCount < 1) {
            throw new IllegalArgumentException("a snapshot has at least one chunk, not " + chunkCount);
        }
        for (Snap older : snaps.headMap(index).values()) {
            if (older.state == State.BEGUN || older.state == State.VIEW_OPEN) {
                abandon(older);
            }
        }
        Snap s = new Snap(index, chunkCount, dir.resolve(fileName(index)), State.BEGUN);
        Snap replaced = snaps.put(index, s);
        if (replaced != null) {
            abandon(replaced);
        }
        s.viewTarget = view -> viewOpened(s, view);
        return s.viewTarget;
    }

    /** Where the view goes of the snapshot at {@code index} taken here, if it still waits for one. */
    public synchronized Optional<Consumer<StateView>> awaitingView(long index) {
        Snap s = snaps.get(index);
        return s != null && s.state == State.BEGUN ? Optional.of(s.viewTarget) : Optional.empty();
    }

    private synchronized void viewOpened(Snap s, StateView view) {
        if (closed || s.state != State.BEGUN) {
            view.close();
            return;
        }
        s.view = view;
        s.state = State.VIEW_OPEN;
        notifyAll();
    }

    /**
     * Records the term and members of the snapshot being taken here that {@code chunk} belongs to, which its trailer
     * will hold: MicroRaft tells them only in the chunks it persists.
     */
    public synchronized void describe(SnapshotChunk chunk) {
        Snap s = snaps.get(chunk.getIndex());
        if (s != null && s.chunkCount == chunk.getSnapshotChunkCount()) {
            describe(s, chunk);
        }
    }

    private static void describe(Snap s, SnapshotChunk chunk) {
        s.meta.complete(new Meta(chunk.getTerm(), chunk.getGroupMembersView()));
    }

    /** Tells {@code observer} how long writing each snapshot taken here took, in nanoseconds (for the metrics). */
    public void reportWriteTimes(LongConsumer observer) {
        writeTimes = observer;
    }

    private void writeSnapshots() {
        while (true) {
            Snap s = null;
            synchronized (this) {
                while (!closed && (s = viewWaiting()) == null) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                s.state = State.WRITING;
            }
            try {
                write(s);
            } catch (Abandoned e) {
                LOG.debug("stopped writing the snapshot at {}: {}", s.index, e.getMessage());
                giveUpFile(s);
            } catch (IOException | RuntimeException | Error e) {
                giveUpFile(s);
                if (!isClosed()) {
                    failStop.stop("writing the snapshot at index " + s.index + " into " + s.path + " failed", e);
                }
                return;
            }
        }
    }

    private Snap viewWaiting() {
        for (Snap s : snaps.values()) {
            if (s.state == State.VIEW_OPEN) {
                return s;
            }
        }
        return null;
    }

    private synchronized boolean isClosed() {
        return closed;
    }

    private void write(Snap s) throws IOException {
        long start = System.nanoTime();
        Files.deleteIfExists(s.path);
        FileChannel channel = FileChannel.open(s.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        synchronized (this) {
            s.channel = channel;
        }
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
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("the snapshot at " + s.index + " has no term and members", e);
        }
        makeDurable(s, channel, meta);
        writeTimes.accept(System.nanoTime() - start);
        LOG.info("snapshot at index {} is durable: {} bytes of state in {} ms", s.index, s.streamBytes(),
                (System.nanoTime() - start) / 1_000_000);
    }

    /** Syncs the chunks, then appends the trailer and syncs again: a trailer never stands for chunks not on disk. */
    private void makeDurable(Snap s, FileChannel channel, Meta meta) throws IOException {
        channel.force(false);
        synchronized (this) {
            if (s.state == State.GONE) {
                throw new Abandoned(s.index);
            }
        }
        long dataEnd = 0;
        for (int k = 0; k < s.chunkCount; k++) {
            if (s.lengths[k] > 0) {
                dataEnd = (long) k * chunkBytes + s.lengths[k];
            }
        }
        writeFully(channel, ByteBuffer.wrap(trailer(s, meta)), dataEnd);
        channel.force(true);
        channel.close();
        syncDirectory();
        synchronized (this) {
            s.channel = null;
            if (s.state == State.GONE) {
                // Given up meanwhile (the node closes): the file is whole, and the next start may use it.
                return;
            }
            s.state = State.DURABLE;
            s.meta.complete(meta);
            newestDurable = Math.max(newestDurable, s.index);
        }
        CrashPoint.SNAPSHOT_DURABLE.reached();
        synchronized (this) {
            durableWaiters.removeIf(w -> {
                if (w.index <= newestDurable) {
                    w.future.complete(newestDurable);
                    return true;
                }
                return false;
            });
            deleteOlderThan(newestDurable);
        }
    }

    /** The bytes of the view, cut into chunks, each written, checksummed and made readable as soon as it is full. */
    private final class ChunkOutput extends java.io.OutputStream {
        private final Snap s;
        private final FileChannel channel;
        private final byte[] buffer = new byte[chunkBytes];
        private final CRC32C crc = new CRC32C();
        private int filled;
        private int chunk;

        ChunkOutput(Snap s, FileChannel channel) {
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
            synchronized (SnapshotFiles.this) {
                if (s.state == State.GONE) {
                    throw new Abandoned(s.index);
                }
            }
            writeFully(channel, ByteBuffer.wrap(buffer, 0, filled), (long) chunk * chunkBytes);
            crc.reset();
            crc.update(buffer, 0, filled);
            chunkPresent(s, chunk, filled, (int) crc.getValue());
            chunk++;
            filled = 0;
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
                chunkPresent(s, chunk, 0, 0);
            }
        }

        @Override
        public void close() {
            // The channel outlives the stream: makeDurable closes it.
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer bytes, long at) throws IOException {
        long position = at;
        while (bytes.hasRemaining()) {
            position += channel.write(bytes, position);
        }
    }

    /** Makes a chunk readable, then tells those waiting for it (outside the lock: they send it on). */
    private void chunkPresent(Snap s, int chunk, int length, int crc) {
        List<CompletableFuture<Void>> waiting;
        synchronized (this) {
            s.lengths[chunk] = length;
            s.crcs[chunk] = crc;
            if (!s.present[chunk]) {
                s.present[chunk] = true;
                s.presentCount++;
            }
            waiting = s.readableWaiters.remove(chunk);
        }
        if (waiting != null) {
            waiting.forEach(f -> f.complete(null));
        }
    }

    // ---------------------------------------------------------------------------------------------- receiving

    /**
     * Persists a chunk whose bytes are in the heap (the leader's, or a snapshot MicroRaft was handed that way) where it
     * belongs in its snapshot's file, and moves the chunk there; a chunk of a snapshot taken here only tells its term
     * and members. Raft thread. The chunk is durable after the {@link #syncReceived} that follows the last one.
     */
    public void persist(SnapshotChunk chunk) throws IOException {
        Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();
        long index = chunk.getIndex();
        int k = chunk.getSnapshotChunkIndex();
        int count = chunk.getSnapshotChunkCount();
        if (count <= 0 || k < 0 || k >= count) {
            throw new IOException("bad snapshot chunk " + k + " of " + count + " at " + index);
        }
        if (part.liesIn(this)) {
            describe(chunk);
            return;
        }
        byte[] bytes = part.bytes();
        if (bytes.length > chunkBytes) {
            throw new IOException("snapshot chunk " + k + " at " + index + " holds " + bytes.length
                    + " bytes, more than a chunk's " + chunkBytes);
        }
        Snap s = receiving(index, count);
        describe(s, chunk);
        writeFully(s.channel, ByteBuffer.wrap(bytes), (long) k * chunkBytes);
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        chunkPresent(s, k, bytes.length, (int) crc.getValue());
        part.movedTo(this, index, k);
        int present;
        synchronized (this) {
            present = s.presentCount;
            if (!unsynced.contains(s)) {
                unsynced.add(s);
                notifyAll();
            }
        }
        if (count >= 2 && present == (count + 1) / 2) {
            CrashPoint.SNAPSHOT_HALF_RECEIVED.reached();
        }
    }

    /** The received snapshot at {@code index} with {@code count} chunks, begun if it is new. */
    private synchronized Snap receiving(long index, int count) throws IOException {
        Snap s = snaps.get(index);
        if (s != null && s.state == State.RECEIVING && s.chunkCount == count) {
            return s;
        }
        if (s != null) {
            // Another snapshot at the same index (a different chunk count): the new one replaces it.
            abandon(s);
            giveUpFile(s);
        }
        s = new Snap(index, count, dir.resolve(fileName(index)), State.RECEIVING);
        Files.deleteIfExists(s.path);
        s.channel = FileChannel.open(s.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        snaps.put(index, s);
        return s;
    }

    /** Forces received chunks to disk in the background, so that the sync that makes them durable has little left. */
    private void syncReceivedChunks() {
        while (true) {
            List<Snap> batch;
            synchronized (this) {
                while (!closed && unsynced.isEmpty()) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed) {
                    return;
                }
                batch = List.copyOf(unsynced);
                unsynced.clear();
            }
            for (Snap s : batch) {
                FileChannel channel;
                synchronized (this) {
                    channel = s.channel;
                }
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

    /**
     * Makes every received snapshot that has all its chunks durable, and deletes older snapshots. Raft thread, as part
     * of MicroRaft's flush.
     */
    public void syncReceived() throws IOException {
        List<Snap> complete = new ArrayList<>();
        synchronized (this) {
            for (Snap s : snaps.values()) {
                if (s.state == State.RECEIVING && s.complete()) {
                    complete.add(s);
                }
            }
            unsynced.removeAll(complete);
        }
        for (Snap s : complete) {
            makeDurable(s, s.channel, s.meta.join());
            CrashPoint.SNAPSHOT_RECEIVED.reached();
        }
    }

    /** Gives up a received snapshot whose chunks MicroRaft stopped collecting. Raft thread. */
    public void discard(long index) {
        Snap s;
        synchronized (this) {
            s = snaps.get(index);
            if (s == null || s.state != State.RECEIVING) {
                return;
            }
            abandon(s);
        }
        giveUpFile(s);
    }

    // ------------------------------------------------------------------------------------------------ reading

    @Override
    public byte[] readChunk(long snapshotIndex, int chunk) {
        Path path;
        int length;
        int expectedCrc;
        synchronized (this) {
            if (closed) {
                throw new Closed("the snapshots in " + dir + " are closed", null);
            }
            Snap s = readable(snapshotIndex, chunk);
            path = s.path;
            length = s.lengths[chunk];
            expectedCrc = s.crcs[chunk];
        }
        byte[] bytes = new byte[length];
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer into = ByteBuffer.wrap(bytes);
            long at = (long) chunk * chunkBytes;
            while (into.hasRemaining()) {
                int n = channel.read(into, at + into.position());
                if (n < 0) {
                    throw new IOException("snapshot file " + path + " ends inside chunk " + chunk);
                }
            }
        } catch (NoSuchFileException e) {
            throw new Unavailable("the snapshot at " + snapshotIndex + " is gone: a newer one replaced it");
        } catch (java.nio.channels.ClosedByInterruptException e) {
            throw new Closed("interrupted while reading the snapshot at " + snapshotIndex, e);
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException("cannot read chunk " + chunk + " of " + path, e));
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        if ((int) crc.getValue() != expectedCrc) {
            throw new UncheckedIOException(new IOException("snapshot file " + path + " has a damaged chunk " + chunk));
        }
        return bytes;
    }

    /** The snapshot at {@code index}, if its chunk {@code chunk} can be read now; else why not. */
    private Snap readable(long index, int chunk) {
        Snap s = snaps.get(index);
        if (s == null || s.state == State.GONE) {
            throw new Unavailable("the snapshot at " + index + " is gone: a newer one replaced it");
        }
        if (chunk < 0 || chunk >= s.chunkCount) {
            throw new IllegalArgumentException("the snapshot at " + index + " has no chunk " + chunk);
        }
        if (!s.present[chunk]) {
            throw new Unavailable("chunk " + chunk + " of the snapshot at " + index + " is not written yet");
        }
        return s;
    }

    @Override
    public synchronized CompletableFuture<Void> whenReadable(long snapshotIndex, int chunk) {
        try {
            readable(snapshotIndex, chunk);
            return CompletableFuture.completedFuture(null);
        } catch (Unavailable e) {
            Snap s = snaps.get(snapshotIndex);
            if (s == null || s.state == State.GONE) {
                return CompletableFuture.failedFuture(e);
            }
            CompletableFuture<Void> future = new CompletableFuture<>();
            s.readableWaiters.computeIfAbsent(chunk, k -> new ArrayList<>()).add(future);
            return future;
        }
    }

    /**
     * Keeps the snapshot at {@code index} (durable, or taken here) from deletion, even once a newer one is durable,
     * until {@link #release}: a store reads it after MicroRaft has moved on.
     */
    public synchronized void hold(long index) {
        Snap s = snaps.get(index);
        if (s != null) {
            s.holds++;
        }
    }

    /** Lets the snapshot {@link #hold} kept be deleted; on any thread. */
    public void release(long index) {
        Snap gone = null;
        synchronized (this) {
            Snap s = snaps.get(index);
            if (s != null && s.holds > 0 && --s.holds == 0 && index < newestDurable) {
                gone = s;
                abandon(s);
            }
        }
        if (gone != null) {
            giveUpFile(gone);
        }
    }

    // ---------------------------------------------------------------------------------------------- bookkeeping

    /** Gives {@code s} up: its chunks will never be readable again. Caller holds the lock; the file goes later. */
    private void abandon(Snap s) {
        s.state = State.GONE;
        if (snaps.get(s.index) == s) {
            snaps.remove(s.index);
        }
        if (s.view != null) {
            s.view.close();
        }
        Unavailable gone = new Unavailable("the snapshot at " + s.index + " was given up for a newer one");
        s.readableWaiters.values().forEach(list -> list.forEach(f -> f.completeExceptionally(gone)));
        s.readableWaiters.clear();
        unsynced.remove(s);
    }

    /** Deletes the durable snapshots older than {@code index} that no store is loading. Caller holds the lock. */
    private void deleteOlderThan(long index) {
        List<Snap> doomed = new ArrayList<>();
        for (Snap s : snaps.headMap(index).values()) {
            if (s.holds == 0 && s.state != State.WRITING) {
                doomed.add(s);
            }
        }
        for (Snap s : doomed) {
            abandon(s);
            giveUpFile(s);
        }
    }

    /** Closes and deletes the file of a snapshot given up. */
    private void giveUpFile(Snap s) {
        FileChannel channel;
        synchronized (this) {
            channel = s.channel;
            s.channel = null;
        }
        try {
            if (channel != null) {
                channel.close();
            }
            Files.deleteIfExists(s.path);
        } catch (IOException e) {
            LOG.warn("cannot delete snapshot file {}: {}", s.path, e.toString());
        }
    }

    private void syncDirectory() throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static String fileName(long index) {
        return PREFIX + String.format("%016x", index);
    }

    // ------------------------------------------------------------------------------------------------ trailer

    private byte[] trailer(Snap s, Meta meta) {
        Writer out = new Writer(64 + 8 * s.chunkCount);
        out.i32(MAGIC).u8(VERSION).i64(s.index).i32(meta.term).i32(chunkBytes).i32(s.chunkCount);
        for (int k = 0; k < s.chunkCount; k++) {
            out.i32(s.lengths[k]).i32(s.crcs[k]);
        }
        Codec.writeMembersView(out, meta.members);
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, out.length());
        int trailerLength = out.length() + Integer.BYTES;
        return out.i32((int) crc.getValue()).i32(trailerLength).i32(MAGIC).toByteArray();
    }

    /** The durable snapshot in {@code path}, or empty if its trailer is missing or damaged. */
    private Optional<Snap> readTrailer(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < END_BYTES) {
                return Optional.empty();
            }
            ByteBuffer end = ByteBuffer.allocate(END_BYTES);
            channel.read(end, size - END_BYTES);
            int trailerLength = end.getInt(0);
            if (end.getInt(Integer.BYTES) != MAGIC || trailerLength < Integer.BYTES
                    || trailerLength > size - END_BYTES) {
                return Optional.empty();
            }
            byte[] trailer = new byte[trailerLength];
            ByteBuffer into = ByteBuffer.wrap(trailer);
            long at = size - END_BYTES - trailerLength;
            while (into.hasRemaining() && channel.read(into, at + into.position()) > 0) {
                // reads until full
            }
            CRC32C crc = new CRC32C();
            crc.update(trailer, 0, trailerLength - Integer.BYTES);
            Reader in = new Reader(trailer);
            if ((int) crc.getValue() != ByteBuffer.wrap(trailer, trailerLength - Integer.BYTES, Integer.BYTES).getInt()
                    || in.i32() != MAGIC || in.u8() != VERSION) {
                return Optional.empty();
            }
            long index = in.i64();
            int term = in.i32();
            int fileChunkBytes = in.i32();
            int count = in.i32();
            if (fileChunkBytes != chunkBytes || count <= 0 || !path.getFileName().toString().equals(fileName(index))) {
                return Optional.empty();
            }
            Snap s = new Snap(index, count, path, State.DURABLE);
            for (int k = 0; k < count; k++) {
                s.lengths[k] = in.i32();
                s.crcs[k] = in.i32();
                s.present[k] = true;
            }
            s.presentCount = count;
            s.meta.complete(new Meta(term, Codec.readMembersView(in)));
            return Optional.of(s);
        } catch (IOException | RuntimeException e) {
            LOG.warn("snapshot file {} cannot be read: {}", path, e.toString());
            return Optional.empty();
        }
    }

    // ------------------------------------------------------------------------------------------------ closing

    /** Stops the writer (a snapshot being written is given up, its file deleted) and the syncer. */
    @Override
    public void close() {
        List<Snap> open;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>();
            for (Snap s : snaps.values()) {
                if (s.state != State.DURABLE) {
                    open.add(s);
                }
            }
            for (Snap s : open) {
                abandon(s);
            }
            durableWaiters.forEach(w -> w.future.completeExceptionally(
                    new Closed("the snapshots in " + dir + " are closed", null)));
            durableWaiters.clear();
            notifyAll();
        }
        writer.interrupt();
        syncer.interrupt();
        try {
            writer.join();
            syncer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        open.forEach(this::giveUpFile);
    }
}
