package io.metcd.wal;

import io.metcd.model.Command;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Chronicle reports a failed msync to its error handler and then counts those pages as synced, so a flush that
 * returned after it would let MicroRaft acknowledge entries a crash can lose. The WAL fails instead, for good, and
 * stops the node. The msync fails where the operating system would fail it: in
 * the call Chronicle makes ({@link FailingMsync}).
 */
class FailedMsyncTest {
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();

    @TempDir
    Path dir;

    private final AtomicInteger failures = new AtomicInteger();
    private ChronicleRaftStore store;

    @AfterEach
    void closeStore() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void aFlushWhoseMsyncFailsThrowsAndStopsTheNode() throws IOException {
        flushAnEntryWhileMsyncFails();
        assertEquals(1, failures.get());
    }

    /** Chronicle would not try those pages again: a later flush that succeeded would still not cover them. */
    @Test
    void afterAFailedMsyncTheStoreRefusesEveryLaterWriteAndFlush() throws IOException {
        flushAnEntryWhileMsyncFails();
        assertThrows(IOException.class, store::flush);
        assertThrows(IOException.class, () -> store.persistLogEntries(List.of(entry(2))));
        assertEquals(1, failures.get());
    }

    @Test
    void aPersistAndFlushWhoseMsyncFailsThrows() {
        store = restored();
        try (FailingMsync ignored = FailingMsync.onThisThread()) {
            assertThrows(IOException.class, () -> store.persistAndFlushTerm(
                    MODEL.createRaftTermPersistentStateBuilder().setTerm(1).build()));
        }
        assertEquals(1, failures.get());
    }

    @Test
    void flushesWhoseMsyncSucceedsAreUnaffected() throws IOException {
        store = restored();
        for (long i = 1; i <= 3; i++) {
            store.persistLogEntries(List.of(entry(i)));
            store.flush();
        }
        assertEquals(0, failures.get());
    }

    private void flushAnEntryWhileMsyncFails() throws IOException {
        store = restored();
        store.persistLogEntries(List.of(entry(1)));
        try (FailingMsync ignored = FailingMsync.onThisThread()) {
            assertThrows(IOException.class, store::flush);
        }
    }

    private ChronicleRaftStore restored() {
        ChronicleRaftStore opened = WalTest.openWal(dir.resolve("wal"), dir.resolve("snap"), 256 * 1024,
                new FailStop(dir, failure -> failures.incrementAndGet()));
        opened.restore();
        return opened;
    }

    private static LogEntry entry(long index) {
        Operation.Proposal put = new Operation.Proposal(1, index, Command.put("key/" + index, new byte[300]));
        return MODEL.createLogEntryBuilder().setIndex(index).setTerm(1)
                .setOperation(new Operation.Batch(0, List.of(put))).build();
    }
}
