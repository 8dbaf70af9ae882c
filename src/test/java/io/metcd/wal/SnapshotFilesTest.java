package io.metcd.wal;

import io.metcd.model.Operation;
import io.metcd.model.StateView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.persistence.RestoredRaftState;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Snapshots in files of their own: taken here (written from a view after the Raft thread has moved on) or received in
 * chunks, durable only once whole, read back on any thread, held while loaded, and what the WAL may compact.
 */
class SnapshotFilesTest extends WalTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @Test
    void aReceivedSnapshotIsRestoredWithTheEntriesAfterIt() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 20, 1));
        for (int chunk : new int[] {2, 0, 1}) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        SnapshotEntry snapshot = state.getSnapshotEntry();
        assertEquals(10, snapshot.getIndex());
        assertEquals(1, snapshot.getTerm());
        assertEquals(3, snapshot.getSnapshotChunkCount());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(chunkBytes(10, i), part(snapshot, i).bytes());
        }
        assertEquals(List.of(ME, OTHER), List.copyOf(snapshot.getGroupMembersView().getMembers()));
        assertEntries(entries(11, 20, 1), state.getLogEntries());
    }

    @Test
    void aPersistedChunkLetsGoOfItsBytesAndReadsThemFromItsFile() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk chunk = chunk(10, 1, 0, 1);
        Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();

        store.persistSnapshotChunk(chunk);

        assertThat(part.liesIn(store.snapshots())).as(part.toString()).isTrue();
        assertArrayEquals(chunkBytes(10, 0), part.bytes());
    }

    @Test
    void aSnapshotMissingChunksIsNotDurableAndItsFileIsDeletedAtRestart() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        store.persistSnapshotChunk(chunk(20, 1, 0, 3));
        store.persistSnapshotChunk(chunk(20, 1, 1, 3));
        store.flush();
        assertEquals(10, store.lastSnapshotIndex());

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEntries(entries(11, 25, 1), state.getLogEntries());
        awaitSnapshotFiles(1);
    }

    @Test
    void aSnapshotMicroRaftStoppedCollectingIsGivenUp() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        store.persistSnapshotChunk(chunk(20, 1, 0, 3));
        store.deleteSnapshotChunks(20, 3);
        store.flush();

        awaitSnapshotFiles(0);
        assertThat(reopen(store).restore().orElseThrow().getSnapshotEntry()).isNull();
    }

    /** The Raft thread hands out a snapshot's chunks before the store has even reached its index. */
    @Test
    void aSnapshotTakenHereIsWrittenFromItsViewBecomesDurableAndIsRestored() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 30, 1));
        List<Operation.SnapshotPart> parts = take(store, 30, 3);
        assertThat(parts.getFirst().whenReadable()).isNotDone();
        assertThatThrownBy(() -> parts.getFirst().bytes()).isInstanceOf(Operation.ChunkSource.Unavailable.class);

        byte[] state = state(2 * 4096 + 100);
        opened(store, 30).accept(viewOf(30, state));

        assertThat(store.snapshots().whenDurable(30)).succeedsWithin(PATIENCE).isEqualTo(30L);
        assertThat(parts.get(0).bytes()).isEqualTo(Arrays.copyOfRange(state, 0, 4096));
        assertThat(parts.get(2).bytes()).isEqualTo(Arrays.copyOfRange(state, 8192, state.length));
        store.truncateLogEntriesUntil(30);
        store.flush();

        RestoredRaftState restored = reopen(store).restore().orElseThrow();
        assertEquals(30, restored.getSnapshotEntry().getIndex());
        assertEquals(List.of(), restored.getLogEntries());
        assertThat(part(restored.getSnapshotEntry(), 1).bytes()).isEqualTo(Arrays.copyOfRange(state, 4096, 8192));
    }

    @Test
    void theChunksAfterTheStateAreEmpty() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        List<Operation.SnapshotPart> parts = take(store, 5, 4);
        opened(store, 5).accept(viewOf(5, state(100)));

        assertThat(parts.get(3).whenReadable()).succeedsWithin(PATIENCE);
        assertThat(parts.get(0).bytes()).hasSize(100);
        assertThat(parts.get(1).bytes()).isEmpty();
        assertThat(parts.get(3).bytes()).isEmpty();
    }

    /** A follower can be sent the first chunks while the last are written. */
    @Test
    void aChunkIsReadableAsSoonAsItIsWritten() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        List<Operation.SnapshotPart> parts = take(store, 5, 3);
        CountDownLatch carryOn = new CountDownLatch(1);
        byte[] state = state(3 * 4096);
        opened(store, 5).accept(new TestView(5, out -> {
            out.write(state, 0, 4096 + 1);
            awaitQuietly(carryOn);
            out.write(state, 4096 + 1, state.length - 4096 - 1);
        }));

        assertThat(parts.get(0).whenReadable()).succeedsWithin(PATIENCE);
        assertThat(parts.get(0).bytes()).isEqualTo(Arrays.copyOfRange(state, 0, 4096));
        assertThat(parts.get(1).whenReadable()).isNotDone();
        carryOn.countDown();
        assertThat(parts.get(1).whenReadable()).succeedsWithin(PATIENCE);
    }

    /**
     * Its file is synced every few chunks as they are written, not only at its end: a large snapshot never leaves the disk
     * all of its state to write at once, for the WAL's syncs to wait behind.
     */
    @Test
    void aSnapshotBeingWrittenIsSyncedEveryFewChunksBeforeItsEnd() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        AtomicInteger syncs = new AtomicInteger();
        store.snapshots().reportSyncTimes(nanos -> syncs.incrementAndGet());
        int chunks = 2 * SnapshotWriter.SYNC_EVERY_CHUNKS + 1;
        take(store, 5, chunks);
        CountDownLatch carryOn = new CountDownLatch(1);
        byte[] state = state(chunks * 4096);
        int untilSync = SnapshotWriter.SYNC_EVERY_CHUNKS * 4096 + 1; // a chunk is written once a byte after it comes
        opened(store, 5).accept(new TestView(5, out -> {
            out.write(state, 0, untilSync);
            awaitQuietly(carryOn);
            out.write(state, untilSync, state.length - untilSync);
        }));

        await().atMost(PATIENCE).until(() -> syncs.get() == 1);
        assertThat(store.snapshots().whenDurable(5)).isNotDone();
        carryOn.countDown();
        assertThat(store.snapshots().whenDurable(5)).succeedsWithin(PATIENCE);
        assertThat(syncs).hasValue(2);
    }

    /**
     * The writer fills one chunk buffer for every snapshot it writes: a buffer of a chunk's size (a MiB) is a humongous
     * object for G1, half a region or more, and one allocated for each snapshot started a collection at a third of
     * the snapshots of a 5 M-key fill, while the Raft thread was taking them.
     */
    @Test
    void theWriterAllocatesItsChunkBufferOnceNotForEachSnapshot() throws Exception {
        int chunkBytes = 8 << 20;
        ChronicleRaftStore store = ChronicleRaftStore.open(dir, SnapshotFiles.open(snapDir, chunkBytes,
                countingFailures()), CYCLE_BYTES, countingFailures());
        opened.add(store);
        assertThat(store.restore()).isEmpty();
        persistIdentity(store);
        CompletableFuture<Thread> writer = new CompletableFuture<>();
        take(store, 5, 1);
        opened(store, 5).accept(new TestView(5, out -> {
            writer.complete(Thread.currentThread());
            out.write(state(100));
        }));
        assertThat(store.snapshots().whenDurable(5)).succeedsWithin(PATIENCE);
        long before = allocatedBy(writer.join());

        take(store, 9, 1);
        opened(store, 9).accept(viewOf(9, state(100)));
        assertThat(store.snapshots().whenDurable(9)).succeedsWithin(PATIENCE);

        assertThat(allocatedBy(writer.join()) - before).as("bytes the writer allocated for its second snapshot")
                .isLessThan(chunkBytes / 8);
    }

    private static long allocatedBy(Thread thread) {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean())
                .getThreadAllocatedBytes(thread.threadId());
    }

    /**
     * The file of a snapshot replaced is deleted on a thread of its own: unlinking a file of a gigabyte holds the file
     * system for hundreds of milliseconds, which the Raft thread's flush must not wait for.
     */
    @Test
    void theRaftThreadsFlushDoesNotWaitForAReplacedSnapshotsFileToBeDeleted() throws Exception {
        CountDownLatch deleting = new CountDownLatch(1);
        CountDownLatch deletionMayEnd = new CountDownLatch(1);
        ChronicleRaftStore store = openRestoredDeletingWith(path -> {
            deleting.countDown();
            awaitQuietly(deletionMayEnd);
            Files.deleteIfExists(path);
        });
        persistIdentity(store);
        take(store, 5, 1);
        opened(store, 5).accept(viewOf(5, state(100)));
        assertThat(store.snapshots().whenDurable(5)).succeedsWithin(PATIENCE);
        take(store, 9, 1);
        opened(store, 9).accept(viewOf(9, state(100)));
        try {
            assertThat(deleting.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();

            assertTimeoutPreemptively(Duration.ofSeconds(2), store::flush);
            assertThat(store.snapshots().whenDurable(9)).isDone();
        } finally {
            deletionMayEnd.countDown();
        }
        awaitSnapshotFiles(1);
    }

    @Test
    void aNewerSnapshotReplacesOneStillWaitingForItsView() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        List<Operation.SnapshotPart> older = take(store, 5, 1);
        CompletableFuture<Void> olderReadable = older.getFirst().whenReadable();
        Consumer<StateView> olderTarget = opened(store, 5);
        take(store, 9, 1);
        TestView late = viewOf(5, state(10));

        olderTarget.accept(late);

        assertThat(late.closed).isTrue();
        assertThat(olderReadable).failsWithin(PATIENCE);
        assertThatThrownBy(() -> older.getFirst().bytes()).isInstanceOf(Operation.ChunkSource.Unavailable.class);
    }

    @Test
    void aStateLargerThanItsChunksStopsTheNode() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        take(store, 5, 2);

        opened(store, 5).accept(viewOf(5, state(2 * 4096 + 1)));

        await().atMost(PATIENCE).until(() -> failures.get() == 1);
        assertThat(store.snapshots().newestDurableIndex()).isZero();
    }

    /** A crash before the trailer leaves a file the next start deletes, and restores from the older snapshot. */
    @Test
    void aSnapshotFileWithoutItsTrailerIsDeletedAtRestart() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 20, 1));
        store.persistSnapshotChunk(chunk(10, 1, 0, 1));
        store.flush();
        store.close();
        Path durable = snapshotFiles().getFirst();
        Path interrupted = durable.resolveSibling(durable.getFileName().toString().replace("000a", "0014"));
        byte[] whole = Files.readAllBytes(durable);
        Files.write(interrupted, Arrays.copyOf(whole, whole.length - 1));

        RestoredRaftState state = open().restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEntries(entries(11, 20, 1), state.getLogEntries());
        assertThat(interrupted).doesNotExist();
        assertThat(durable).exists();
    }

    @Test
    void aDamagedChunkFailsWhenItIsRead() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistSnapshotChunk(chunk(10, 1, 0, 1));
        store.flush();
        store.close();
        try (RandomAccessFile file = new RandomAccessFile(snapshotFiles().getFirst().toFile(), "rw")) {
            file.seek(100);
            file.write(~file.read());
        }

        SnapshotEntry snapshot = open().restore().orElseThrow().getSnapshotEntry();

        assertThatThrownBy(() -> part(snapshot, 0).bytes()).isInstanceOf(UncheckedIOException.class)
                .hasMessageContaining("damaged chunk 0");
    }

    @Test
    void aSnapshotBeingLoadedOutlivesANewerOneUntilReleased() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk older = chunk(10, 1, 0, 1);
        store.persistSnapshotChunk(older);
        store.flush();
        Operation.SnapshotPart loading = (Operation.SnapshotPart) older.getOperation();
        store.snapshots().hold(10);
        store.persistSnapshotChunk(chunk(30, 1, 0, 1));
        store.flush();

        assertArrayEquals(chunkBytes(10, 0), loading.bytes());

        store.snapshots().release(10);
        assertThatThrownBy(loading::bytes).isInstanceOf(Operation.ChunkSource.Unavailable.class);
        awaitSnapshotFiles(1);
    }

    /** MicroRaft asks to compact as soon as it took a snapshot; the entries stay until it is durable. */
    @Test
    void entriesStayInTheLogUntilADurableSnapshotCoversThem() throws Exception {
        ChronicleRaftStore store = withEntriesInManyCycles(300);
        take(store, 300, 1);
        store.truncateLogEntriesUntil(300);
        store.flush();
        int before = cycleFiles();

        RestoredRaftState beforeDurable = reopenWithoutWriting(store).restore().orElseThrow();
        assertThat(beforeDurable.getSnapshotEntry()).isNull();
        assertEntries(entries(1, 300, 1), beforeDurable.getLogEntries());
        assertThat(cycleFiles()).isEqualTo(before);
    }

    @Test
    void aDurableSnapshotLetsTheNextCompactionDeleteWhatItCovers() throws Exception {
        ChronicleRaftStore store = withEntriesInManyCycles(300);
        take(store, 300, 1);
        store.truncateLogEntriesUntil(300);
        int before = cycleFiles();
        opened(store, 300).accept(viewOf(300, state(10)));
        assertThat(store.snapshots().whenDurable(300)).succeedsWithin(PATIENCE);
        store.persistLogEntries(entries(301, 310, 1));
        store.truncateLogEntriesUntil(300);
        store.flush();

        assertThat(cycleFiles()).isLessThan(before);
        RestoredRaftState state = reopen(store).restore().orElseThrow();
        assertEquals(300, state.getSnapshotEntry().getIndex());
        assertEntries(entries(301, 310, 1), state.getLogEntries());
    }

    @Test
    void compactionKeepsDiskBoundedUnderALongWriteLoad() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        int term = 1;
        long snapshotIndex = 0;
        int maxFiles = 0;
        for (long index = 1; index <= 30_000; index += 10) {
            store.persistLogEntries(entries(index, index + 9, term));
            store.flush();
            long last = index + 9;
            if (last % 1000 == 0) {
                snapshotIndex = last;
                store.persistSnapshotChunk(chunk(snapshotIndex, term, 0, 2));
                store.persistSnapshotChunk(chunk(snapshotIndex, term, 1, 2));
                store.flush();
                store.truncateLogEntriesUntil(snapshotIndex);
                store.flush();
            }
            if (last % 7000 == 0) {
                store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(++term).build());
            }
            maxFiles = Math.max(maxFiles, cycleFiles());
        }
        store.persistLogEntries(entries(30_001, 30_005, term));
        store.flush();

        // About 10 MB of log went through 256 KiB cycles: without compaction that would be ~40 files.
        assertThat(store.queue().lastCycle()).isGreaterThanOrEqualTo(30);
        assertThat(maxFiles).isLessThanOrEqualTo(4);
        awaitSnapshotFiles(1);
        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();
        assertEquals(ME, state.getLocalEndpointPersistentState().getLocalEndpoint());
        assertEquals(term, state.getTermPersistentState().getTerm());
        assertEquals(snapshotIndex, state.getSnapshotEntry().getIndex());
        assertEquals(30_000, reopened.lastSnapshotIndex());
        assertEntries(entries(30_001, 30_005, term), state.getLogEntries());
        assertEquals(0, failures.get());
    }

    // ----------------------------------------------------------------------------------------- helpers

    /** A store whose log holds entries 1 to {@code last}, ten to a record, in cycles of 16 KiB. */
    private ChronicleRaftStore withEntriesInManyCycles(long last) throws IOException {
        ChronicleRaftStore store = open(16 * 1024);
        store.restore();
        persistIdentity(store);
        for (long index = 1; index <= last; index += 10) {
            store.persistLogEntries(entries(index, Math.min(last, index + 9), 1));
        }
        store.flush();
        return store;
    }

    /** Takes a snapshot at {@code index} as the Raft thread does: its chunks, persisted as MicroRaft persists them. */
    private static List<Operation.SnapshotPart> take(ChronicleRaftStore store, long index, int chunks)
            throws IOException {
        store.snapshots().begin(index, chunks);
        List<Operation.SnapshotPart> parts = new ArrayList<>();
        for (int k = 0; k < chunks; k++) {
            Operation.SnapshotPart part = new Operation.SnapshotPart(store.snapshots(), index, k);
            parts.add(part);
            store.persistSnapshotChunk(MODEL.createSnapshotChunkBuilder().setIndex(index).setTerm(1)
                    .setSnapshotChunkIndex(k).setSnapshotChunkCount(chunks).setGroupMembersView(members(0))
                    .setOperation(part).build());
        }
        store.flush();
        return parts;
    }

    /** Where the store hands the view of the snapshot at {@code index}. */
    private static Consumer<StateView> opened(ChronicleRaftStore store, long index) {
        return store.snapshots().awaitingView(index).orElseThrow();
    }

    /** Chunks of 4 KiB here (see {@link #openWal}), to keep the states small. */
    @Override
    ChronicleRaftStore open(long cycleBytes) {
        ChronicleRaftStore store = ChronicleRaftStore.open(dir, SnapshotFiles.open(snapDir, 4096, countingFailures()),
                cycleBytes, countingFailures());
        opened.add(store);
        return store;
    }

    /** An empty store whose snapshot files, once given up, are deleted with {@code deletion}. */
    private ChronicleRaftStore openRestoredDeletingWith(FileDeleter.Deletion deletion) {
        ChronicleRaftStore store = ChronicleRaftStore.open(dir,
                SnapshotFiles.open(snapDir, 4096, countingFailures(), deletion), CYCLE_BYTES, countingFailures());
        opened.add(store);
        assertThat(store.restore()).isEmpty();
        return store;
    }

    /** Closes the store as a kill would find it: the snapshot files given up, the log as it was. */
    private ChronicleRaftStore reopenWithoutWriting(ChronicleRaftStore store) {
        store.close();
        return open(16 * 1024);
    }

    private static byte[] state(int bytes) {
        byte[] state = new byte[bytes];
        for (int i = 0; i < bytes; i++) {
            state[i] = (byte) (i * 7 + i / 4096);
        }
        return state;
    }

    private static TestView viewOf(long index, byte[] state) {
        return new TestView(index, out -> out.write(state));
    }

    @SuppressWarnings("unchecked")
    private static Operation.SnapshotPart part(SnapshotEntry snapshot, int chunk) {
        return (Operation.SnapshotPart) ((List<SnapshotChunk>) snapshot.getOperation()).get(chunk).getOperation();
    }

    private List<Path> snapshotFiles() throws IOException {
        try (Stream<Path> files = Files.list(snapDir)) {
            return files.sorted().toList();
        }
    }

    /** Files given up are renamed, then deleted in the background: waits until {@code count} files are left. */
    private void awaitSnapshotFiles(int count) {
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(snapshotFiles()).hasSize(count));
    }

    private static void awaitQuietly(CountDownLatch latch) throws IOException {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }

    @FunctionalInterface
    private interface Writing {
        void writeTo(OutputStream out) throws IOException;
    }

    /** A state that is what the test writes. */
    private static final class TestView implements StateView {
        private final long index;
        private final Writing writing;
        volatile boolean closed;

        TestView(long index, Writing writing) {
            this.index = index;
            this.writing = writing;
        }

        @Override
        public long index() {
            return index;
        }

        @Override
        public void writeTo(OutputStream out) throws IOException {
            writing.writeTo(out);
        }

        @Override
        public void close() {
            closed = true;
        }
    }
}
