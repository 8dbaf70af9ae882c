package io.metcd.wal;

import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.model.StateView;
import io.metcd.wal.SnapshotFile.Abandoned;
import io.metcd.wal.SnapshotFile.Meta;
import io.metcd.wal.SnapshotFile.State;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * This node's snapshots, one file each in a directory of their own ({@link SnapshotFileLayout}: chunks at fixed
 * offsets, then a trailer giving the snapshot's index, term, members and the length and CRC32C of every chunk). A
 * snapshot is a stream of bytes (the store's state, in the store's format) cut into MicroRaft's chunks. <b>A snapshot is
 * durable once its trailer is written and synced</b> after its chunks were; a file without a valid trailer is one a
 * crash interrupted, and is deleted.
 * <p>
 * <b>Taken here.</b> On the Raft thread, {@link #begin} registers the snapshot with a fixed number of chunks (MicroRaft
 * wants the count at once: the taker gives an upper bound of the state's size, and trailing chunks may be empty). The
 * store, once it reaches the snapshot's index, hands over a {@link StateView} of that state ({@link #begin}'s consumer);
 * the {@link SnapshotWriter} thread writes the view into the file, chunk after chunk, syncs it, and makes it durable.
 * Only the newest snapshot matters to MicroRaft: one taken while an older one waits for the writer replaces it; one
 * being written is finished, so that a durable snapshot keeps coming however fast they are taken.
 * <p>
 * <b>Received.</b> Chunks that come in the heap (from the leader) are written where they belong as they are persisted
 * ({@link #persist}, by the {@link SnapshotReceiver}), and the snapshot becomes durable on the {@link #syncReceived}
 * that follows its last chunk.
 * <p>
 * <b>Deleting.</b> Once a snapshot is durable, older ones are deleted, but for those a store is still loading
 * ({@link #hold}): the WAL keeps its entries after the newest durable snapshot, so a restart never needs an older one.
 * A file is renamed out of the way at once and deleted on a thread of its own ({@link FileDeleter}).
 * <p>
 * <b>Locking.</b> This class is the registry of snapshots and its monitor is the one lock: it guards which snapshots
 * exist and every field of each {@link SnapshotFile}. The writer and the receiver take no lock of their own; they
 * change a snapshot only through the package-private methods here, which take the monitor for the bookkeeping only
 * (never around file I/O, nor while completing futures whose callbacks send chunks on). Threads: the Raft thread
 * begins, receives and syncs; the store's applier hands views over; the writer writes; the syncer syncs received
 * chunks ahead of time; the deleter deletes; any thread reads chunks ({@link #readChunk}) and waits for them.
 */
public final class SnapshotFiles implements Operation.ChunkSource, AutoCloseable {
    /** The chunk size: large enough to amortise a chunk's round trip, small enough for one peer frame. */
    public static final int CHUNK_BYTES = 1 << 20;

    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFiles.class);

    private final Path dir;
    private final FileDeleter deleter;
    private final int chunkBytes;
    private final SnapshotWriter writing;
    private final SnapshotReceiver receiving;
    private final Thread writer;
    private final Thread syncer;
    /** Every snapshot with a file, or about to have one. Guarded by this, as is all state of a {@link SnapshotFile}. */
    private final TreeMap<Long, SnapshotFile> snaps = new TreeMap<>();
    private final List<DurableWaiter> durableWaiters = new ArrayList<>();
    private volatile long newestDurable;
    private boolean closed;
    /** Received snapshots with chunks written since the syncer last synced them. Guarded by this. */
    private final List<SnapshotFile> unsynced = new ArrayList<>();

    /** What the trailer of a durable snapshot says: what restore needs to give MicroRaft. */
    public record Descriptor(long index, int term, RaftGroupMembersView members, int chunkCount, long streamBytes) {
    }

    private record DurableWaiter(long index, CompletableFuture<Long> future) {
    }

    private SnapshotFiles(Path dir, int chunkBytes, FailStop failStop, String name, FileDeleter.Deletion deletion) {
        this.dir = dir;
        this.deleter = new FileDeleter(dir, deletion, "snapshot-deleter-" + name);
        this.chunkBytes = chunkBytes;
        this.writing = new SnapshotWriter(this, chunkBytes, failStop);
        this.receiving = new SnapshotReceiver(this, chunkBytes);
        this.writer = Thread.ofPlatform().daemon().name("snapshot-writer-" + name).unstarted(writing::writeSnapshots);
        this.syncer = Thread.ofPlatform().daemon().name("snapshot-syncer-" + name).unstarted(receiving::syncInBackground);
    }

    /**
     * Opens the snapshots in {@code dir} (creating it): keeps the newest durable one, deletes every other file.
     *
     * @param chunkBytes the size of a chunk ({@link #CHUNK_BYTES} but in tests)
     * @param failStop   stops the node if a snapshot cannot be written
     */
    public static SnapshotFiles open(Path dir, int chunkBytes, FailStop failStop) {
        return open(dir, chunkBytes, failStop, Files::deleteIfExists);
    }

    /** As {@link #open(Path, int, FailStop)}, deleting the files of snapshots given up with {@code deletion}. */
    static SnapshotFiles open(Path dir, int chunkBytes, FailStop failStop, FileDeleter.Deletion deletion) {
        SnapshotFiles files = new SnapshotFiles(dir, chunkBytes, failStop, dir.getParent().getFileName().toString(),
                deletion);
        try {
            Files.createDirectories(dir);
            files.deleter.start();
            files.loadNewest();
        } catch (IOException e) {
            files.deleter.close();
            throw new UncheckedIOException(new IOException("cannot open the snapshots in " + dir, e));
        }
        files.writer.start();
        files.syncer.start();
        return files;
    }

    private void loadNewest() throws IOException {
        List<Path> found;
        try (Stream<Path> list = Files.list(dir)) {
            found = list.filter(SnapshotFileLayout::isSnapshotFile).sorted().toList();
        }
        SnapshotFile newest = null;
        for (Path path : found.reversed()) {
            Optional<SnapshotFileLayout.Trailer> durable = newest == null
                    ? SnapshotFileLayout.readTrailer(path, chunkBytes) : Optional.empty();
            if (durable.isPresent()) {
                newest = SnapshotFile.durable(path, durable.get());
            } else {
                LOG.info("deleting snapshot file {}: {}", path, newest == null ? "a crash interrupted it"
                        : "a newer snapshot is durable");
                deleter.delete(path);
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
        SnapshotFile s = snaps.get(newestDurable);
        if (s == null) {
            return Optional.empty();
        }
        Meta meta = s.meta.join();
        return Optional.of(new Descriptor(s.index, meta.term(), meta.members(), s.chunkCount, s.streamBytes()));
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
        SnapshotFile s = snaps.get(index);
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
        SnapshotFile s = snaps.get(newestDurable);
        return s == null ? Optional.empty() : Optional.of(new Digest(s.index, s.sha256()));
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
        for (SnapshotFile older : snaps.headMap(index).values()) {
            if (older.state == State.BEGUN || older.state == State.VIEW_OPEN) {
                abandon(older);
            }
        }
        SnapshotFile s = new SnapshotFile(index, chunkCount, dir.resolve(SnapshotFileLayout.fileName(index)),
                State.BEGUN);
        SnapshotFile replaced = snaps.put(index, s);
        if (replaced != null) {
            abandon(replaced);
        }
        s.viewTarget = view -> viewOpened(s, view);
        return s.viewTarget;
    }

    /** Where the view goes of the snapshot at {@code index} taken here, if it still waits for one. */
    public synchronized Optional<Consumer<StateView>> awaitingView(long index) {
        SnapshotFile s = snaps.get(index);
        return s != null && s.state == State.BEGUN ? Optional.of(s.viewTarget) : Optional.empty();
    }

    private synchronized void viewOpened(SnapshotFile s, StateView view) {
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
        SnapshotFile s = snaps.get(chunk.getIndex());
        if (s != null && s.chunkCount == chunk.getSnapshotChunkCount()) {
            s.describe(chunk);
        }
    }

    /** Tells {@code observer} how long writing each snapshot taken here took, in nanoseconds (for the metrics). */
    public void reportWriteTimes(LongConsumer observer) {
        writing.reportWriteTimes(observer);
    }

    /**
     * Tells {@code observer} how long each sync of a snapshot taken here took while it was being written, every few
     * chunks, in nanoseconds (for the metrics).
     */
    public void reportSyncTimes(LongConsumer observer) {
        writing.reportSyncTimes(observer);
    }

    /** For the writer: waits for a snapshot whose view is open and marks it being written; null once closed. */
    SnapshotFile nextToWrite() throws InterruptedException {
        return awaitNext(() -> {
            for (SnapshotFile s : snaps.values()) {
                if (s.state == State.VIEW_OPEN) {
                    s.state = State.WRITING;
                    return s;
                }
            }
            return null;
        });
    }

    /**
     * Waits until {@code next}, called under the lock whenever something changed, finds work; null once closed.
     * The writer and the syncer wait here, so that closing wakes both.
     */
    private synchronized <T> T awaitNext(Supplier<T> next) throws InterruptedException {
        T found = null;
        while (!closed && (found = next.get()) == null) {
            wait();
        }
        return closed ? null : found;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /** For the writer: {@code s}'s file is open and being written through {@code channel}. */
    synchronized void writingInto(SnapshotFile s, FileChannel channel) {
        s.channel = channel;
    }

    /** Throws {@link Abandoned} if {@code s} was given up: there is no point in writing more of it. */
    synchronized void ensureWanted(SnapshotFile s) throws Abandoned {
        if (s.state == State.GONE) {
            throw new Abandoned(s.index);
        }
    }

    /** Makes a chunk readable, then tells those waiting for it (outside the lock: they send it on). */
    void chunkPresent(SnapshotFile s, int chunk, int length, int crc) {
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

    /**
     * Syncs the chunks, then appends the trailer and syncs again: a trailer never stands for chunks not on disk. Then
     * {@code s} is the newest durable snapshot (if no newer one is), and older ones are deleted.
     */
    void makeDurable(SnapshotFile s, FileChannel channel, Meta meta) throws IOException {
        channel.force(false);
        ensureWanted(s);
        SnapshotFileLayout.appendTrailer(channel, s.trailer(meta), chunkBytes);
        channel.close();
        SnapshotFileLayout.syncDirectory(dir);
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
        List<SnapshotFile> older;
        synchronized (this) {
            durableWaiters.removeIf(w -> {
                if (w.index <= newestDurable) {
                    w.future.complete(newestDurable);
                    return true;
                }
                return false;
            });
            older = abandonOlderThan(newestDurable);
        }
        older.forEach(this::giveUpFile);
    }

    // ---------------------------------------------------------------------------------------------- receiving

    /**
     * Persists a chunk whose bytes are in the heap (the leader's, or a snapshot MicroRaft was handed that way) where it
     * belongs in its snapshot's file, and moves the chunk there; a chunk of a snapshot taken here only tells its term
     * and members. Raft thread. The chunk is durable after the {@link #syncReceived} that follows the last one.
     */
    public void persist(SnapshotChunk chunk) throws IOException {
        receiving.persist(chunk);
    }

    /**
     * Makes every received snapshot that has all its chunks durable, and deletes older snapshots. Raft thread, as part
     * of MicroRaft's flush.
     */
    public void syncReceived() throws IOException {
        receiving.syncReceived();
    }

    /** Gives up a received snapshot whose chunks MicroRaft stopped collecting. Raft thread. */
    public void discard(long index) {
        SnapshotFile s;
        synchronized (this) {
            s = snaps.get(index);
            if (s == null || s.state != State.RECEIVING) {
                return;
            }
            abandon(s);
        }
        giveUpFile(s);
    }

    /** For the receiver: the received snapshot at {@code index} with {@code count} chunks, begun if it is new. */
    synchronized SnapshotFile receiving(long index, int count) throws IOException {
        SnapshotFile s = snaps.get(index);
        if (s != null && s.state == State.RECEIVING && s.chunkCount == count) {
            return s;
        }
        if (s != null) {
            // Another snapshot at the same index (a different chunk count): the new one replaces it.
            abandon(s);
            giveUpFile(s);
        }
        s = new SnapshotFile(index, count, dir.resolve(SnapshotFileLayout.fileName(index)), State.RECEIVING);
        Files.deleteIfExists(s.path);
        s.channel = FileChannel.open(s.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        snaps.put(index, s);
        return s;
    }

    /** For the receiver: {@code s} has a chunk to sync in the background. Returns how many of its chunks are present. */
    synchronized int awaitSync(SnapshotFile s) {
        if (!unsynced.contains(s)) {
            unsynced.add(s);
            notifyAll();
        }
        return s.presentCount;
    }

    /** For the syncer: waits for received snapshots with chunks to sync, and takes them; null once closed. */
    List<SnapshotFile> nextToSync() throws InterruptedException {
        return awaitNext(() -> {
            if (unsynced.isEmpty()) {
                return null;
            }
            List<SnapshotFile> batch = List.copyOf(unsynced);
            unsynced.clear();
            return batch;
        });
    }

    /** The channel {@code s} is being written through, null once it is closed. */
    synchronized FileChannel channelOf(SnapshotFile s) {
        return s.channel;
    }

    /** For the receiver: the received snapshots that have all their chunks, which the syncer need no longer sync. */
    synchronized List<SnapshotFile> receivedInFull() {
        List<SnapshotFile> complete = new ArrayList<>();
        for (SnapshotFile s : snaps.values()) {
            if (s.state == State.RECEIVING && s.complete()) {
                complete.add(s);
            }
        }
        unsynced.removeAll(complete);
        return complete;
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
            SnapshotFile s = readable(snapshotIndex, chunk);
            path = s.path;
            length = s.lengths[chunk];
            expectedCrc = s.crcs[chunk];
        }
        return SnapshotFileLayout.readChunk(path, snapshotIndex, chunk, chunkBytes, length, expectedCrc);
    }

    /** The snapshot at {@code index}, if its chunk {@code chunk} can be read now; else why not. */
    private SnapshotFile readable(long index, int chunk) {
        SnapshotFile s = snaps.get(index);
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
            SnapshotFile s = snaps.get(snapshotIndex);
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
        SnapshotFile s = snaps.get(index);
        if (s != null) {
            s.holds++;
        }
    }

    /** Lets the snapshot {@link #hold} kept be deleted; on any thread. */
    public void release(long index) {
        SnapshotFile gone = null;
        synchronized (this) {
            SnapshotFile s = snaps.get(index);
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
    private void abandon(SnapshotFile s) {
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

    /**
     * Gives up the durable snapshots older than {@code index} that no store is loading, and returns them: their files
     * are for the caller to give up, once it has let go of the lock. Caller holds the lock.
     */
    private List<SnapshotFile> abandonOlderThan(long index) {
        List<SnapshotFile> doomed = snaps.headMap(index).values().stream()
                .filter(s -> s.holds == 0 && s.state != State.WRITING).toList();
        doomed.forEach(this::abandon);
        return doomed;
    }

    /** Closes the file of a snapshot given up, and has it deleted in the background ({@link FileDeleter}). */
    void giveUpFile(SnapshotFile s) {
        FileChannel channel;
        synchronized (this) {
            channel = s.channel;
            s.channel = null;
        }
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException e) {
            LOG.warn("cannot close snapshot file {}: {}", s.path, e.toString());
        }
        deleter.delete(s.path);
    }

    // ------------------------------------------------------------------------------------------------ closing

    /** Stops the writer (a snapshot being written is given up, its file deleted) and the syncer. */
    @Override
    public void close() {
        List<SnapshotFile> open;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            open = new ArrayList<>();
            for (SnapshotFile s : snaps.values()) {
                if (s.state != State.DURABLE) {
                    open.add(s);
                }
            }
            for (SnapshotFile s : open) {
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
        deleter.close();
    }
}
