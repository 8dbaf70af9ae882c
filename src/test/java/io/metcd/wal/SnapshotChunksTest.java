package io.metcd.wal;

import io.metcd.model.Operation;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.persistence.RestoredRaftState;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Snapshot chunks in the WAL: persisted or staged, read back on any thread, held, deleted, and compacted away. */
class SnapshotChunksTest extends WalTest {
    @Test
    void completeSnapshotIsRestoredWithTheEntriesAfterIt() throws IOException {
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
        @SuppressWarnings("unchecked")
        List<SnapshotChunk> chunks = (List<SnapshotChunk>) snapshot.getOperation();
        for (int i = 0; i < 3; i++) {
            assertEquals(i, chunks.get(i).getSnapshotChunkIndex());
            assertArrayEquals(chunkBytes(10, i), ((Operation.SnapshotPart) chunks.get(i).getOperation()).bytes());
        }
        assertEquals(List.of(ME, OTHER), List.copyOf(snapshot.getGroupMembersView().getMembers()));
        assertEntries(entries(11, 20, 1), state.getLogEntries());
    }

    @Test
    void aPersistedChunkLetsGoOfItsBytesAndReadsThemFromTheLog() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk chunk = chunk(10, 1, 0, 1);
        Operation.SnapshotPart part = (Operation.SnapshotPart) chunk.getOperation();

        store.persistSnapshotChunk(chunk);

        assertTrue(part.liesIn(store), part::toString);
        assertArrayEquals(chunkBytes(10, 0), part.bytes());
    }

    @Test
    void restoreLeavesTheSnapshotsChunksInTheLog() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.persistSnapshotChunk(chunk(10, 1, 0, 1));
        store.flush();

        ChronicleRaftStore reopened = reopen(store);
        SnapshotEntry snapshot = reopened.restore().orElseThrow().getSnapshotEntry();

        Operation.SnapshotPart part = firstPart(snapshot);
        assertTrue(part.liesIn(reopened), part::toString);
        assertArrayEquals(chunkBytes(10, 0), part.bytes());
    }

    @Test
    void stagedChunksMakeASnapshotOnceMicroRaftPersistsThem() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        long recordsBefore = countRecords(store);
        List<Operation.SnapshotPart> staged = List.of(store.stageSnapshotChunk(10, chunkBytes(10, 0)),
                store.stageSnapshotChunk(10, chunkBytes(10, 1)));
        for (int i = 0; i < staged.size(); i++) {
            store.persistSnapshotChunk(MODEL.createSnapshotChunkBuilder().setIndex(10).setTerm(1)
                    .setOperation(staged.get(i)).setSnapshotChunkIndex(i).setSnapshotChunkCount(2)
                    .setGroupMembersView(members(0)).build());
        }
        store.flush();
        // Each chunk's bytes were written once, and one small reference to them.
        assertEquals(recordsBefore + 2L * staged.size(), countRecords(store));

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        @SuppressWarnings("unchecked")
        List<SnapshotChunk> chunks = (List<SnapshotChunk>) state.getSnapshotEntry().getOperation();
        for (int i = 0; i < 2; i++) {
            assertArrayEquals(chunkBytes(10, i), ((Operation.SnapshotPart) chunks.get(i).getOperation()).bytes());
        }
    }

    /**
     * A leader reads chunks back on its transport's threads, a store as it loads them, while the Raft thread appends:
     * a checksum that one of them computes must not take in the other's bytes.
     */
    @Test
    void chunksReadOnOtherThreadsWhileTheLogIsAppendedToLeaveEveryRecordIntact() throws Exception {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        SnapshotChunk chunk = chunk(1, 1, 0, 1);
        store.persistSnapshotChunk(chunk);
        store.flush();
        long location = ((Operation.SnapshotPart) chunk.getOperation()).location();
        AtomicBoolean writing = new AtomicBoolean(true);
        List<Throwable> readFailures = new CopyOnWriteArrayList<>();
        List<Thread> readers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            readers.add(Thread.ofPlatform().start(() -> {
                while (writing.get()) {
                    try {
                        assertArrayEquals(chunkBytes(1, 0), store.readChunk(location));
                    } catch (Throwable e) {
                        readFailures.add(e);
                        return;
                    }
                }
            }));
        }
        try {
            // After the snapshot at index 1.
            for (long index = 2; index <= 3001; index++) {
                store.persistLogEntries(List.of(entry(index, 1)));
                if (index % 100 == 0) {
                    store.flush();
                }
            }
            store.flush();
        } finally {
            writing.set(false);
            for (Thread reader : readers) {
                reader.join();
            }
        }

        assertEquals(List.of(), readFailures);
        assertEquals(3000, reopen(store).restore().orElseThrow().getLogEntries().size());
        assertEquals(0, failures.get());
    }

    @Test
    void aDamagedChunkFailsWhenItIsRead() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.persistSnapshotChunk(MODEL.createSnapshotChunkBuilder().setIndex(10).setTerm(1)
                .setOperation(new Operation.SnapshotPart("CHUNK-MARKER".getBytes(StandardCharsets.UTF_8)))
                .setSnapshotChunkIndex(0).setSnapshotChunkCount(1).setGroupMembersView(members(0)).build());
        store.flush();
        store.close();
        corrupt("CHUNK-MARKER");

        SnapshotEntry snapshot = open().restore().orElseThrow().getSnapshotEntry();

        Operation.SnapshotPart part = firstPart(snapshot);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, part::bytes);
        assertTrue(e.getMessage().contains("damaged snapshot chunk"), e::toString);
    }

    @Test
    void chunksOfASnapshotBeingLoadedOutliveANewerSnapshotUntilReleased() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        SnapshotChunk older = chunk(10, 1, 0, 1);
        store.persistSnapshotChunk(older);
        store.flush();
        Operation.SnapshotPart loading = (Operation.SnapshotPart) older.getOperation();
        store.holdChunks(10);
        // Enough log after it for compaction to have whole cycles to delete.
        store.persistLogEntries(entries(11, 3000, 1));
        store.persistSnapshotChunk(chunk(3000, 1, 0, 1));
        store.flush();

        store.truncateLogEntriesUntil(3000);
        assertArrayEquals(chunkBytes(10, 0), loading.bytes());

        store.releaseChunks(10);
        store.truncateLogEntriesUntil(3000);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, loading::bytes);
        assertTrue(e.getMessage().contains("no longer holds"), e::toString);
    }

    @Test
    void incompleteSnapshotIsIgnored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        store.persistSnapshotChunk(chunk(20, 1, 0, 3));
        store.persistSnapshotChunk(chunk(20, 1, 1, 3));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEntries(entries(11, 25, 1), state.getLogEntries());
    }

    @Test
    void snapshotAheadOfTheLogDiscardsEarlierEntries() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 5, 1));
        for (int chunk = 0; chunk < 2; chunk++) {
            store.persistSnapshotChunk(chunk(50, 2, chunk, 2));
        }
        store.flush();
        store.truncateLogEntriesUntil(50);
        store.persistLogEntries(entries(51, 53, 2));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(50, state.getSnapshotEntry().getIndex());
        assertEquals(2, state.getSnapshotEntry().getTerm());
        assertEntries(entries(51, 53, 2), state.getLogEntries());
    }

    @Test
    void deletedSnapshotChunksAreIgnored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 25, 1));
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(10, 1, chunk, 3));
        }
        for (int chunk = 0; chunk < 3; chunk++) {
            store.persistSnapshotChunk(chunk(20, 1, chunk, 3));
        }
        store.deleteSnapshotChunks(20, 3);
        // A chunk written after the deletion starts the snapshot afresh; the deleted ones do not count towards it.
        store.persistSnapshotChunk(chunk(20, 1, 2, 3));
        store.flush();
        assertEquals(10, store.lastSnapshotIndex());

        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();

        assertEquals(10, state.getSnapshotEntry().getIndex());
        assertEquals(10, reopened.lastSnapshotIndex());
        assertEntries(entries(11, 25, 1), state.getLogEntries());
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
        assertTrue(store.queue().lastCycle() >= 30, "only " + store.queue().lastCycle() + " cycles");
        assertTrue(maxFiles <= 4, maxFiles + " cycle files at once");
        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();
        assertEquals(ME, state.getLocalEndpointPersistentState().getLocalEndpoint());
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getMembers()));
        assertEquals(term, state.getTermPersistentState().getTerm());
        assertEquals(snapshotIndex, state.getSnapshotEntry().getIndex());
        assertEquals(30_000, reopened.lastSnapshotIndex());
        assertEntries(entries(30_001, 30_005, term), state.getLogEntries());
    }
}
