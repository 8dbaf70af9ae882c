package io.metcd.wal;

import io.metcd.model.Command;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.model.log.LogEntry;
import io.microraft.model.message.RaftMessage;
import io.microraft.persistence.RestoredRaftState;
import io.microraft.statemachine.StateMachine;
import io.microraft.transport.Transport;
import net.openhft.chronicle.wire.DocumentContext;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.LongStream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The WAL as MicroRaft's store: what it restores, how it survives crashes and damage, and how it fails. */
class ChronicleRaftStoreTest extends WalTest {
    @Test
    void newDirectoryRestoresNothing() {
        assertTrue(open().restore().isEmpty());
    }

    @Test
    void appendedStateIsRestored() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(3).setVotedFor(OTHER).build());
        store.persistLogEntries(List.of(entry(1, 1), entry(2, 1), entry(3, 2)));
        store.persistLogEntries(List.of(entry(4, 3)));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        assertEquals(ME, state.getLocalEndpointPersistentState().getLocalEndpoint());
        assertTrue(state.getLocalEndpointPersistentState().isVoting());
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getMembers()));
        assertEquals(List.of(ME, OTHER), List.copyOf(state.getInitialGroupMembers().getVotingMembers()));
        assertEquals(0, state.getInitialGroupMembers().getLogIndex());
        assertEquals(3, state.getTermPersistentState().getTerm());
        assertEquals(OTHER, state.getTermPersistentState().getVotedFor());
        assertNull(state.getSnapshotEntry());
        assertEntries(List.of(entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3)), state.getLogEntries());
    }

    @Test
    void aBatchOfEntriesIsOneRecord() throws IOException {
        ChronicleRaftStore store = openRestored();
        long before = countRecords(store);

        store.persistLogEntries(LongStream.rangeClosed(1, 100).mapToObj(i -> entry(i, 1)).toList());

        assertEquals(before + 1, countRecords(store));
    }

    @Test
    void truncatedTailIsReplacedByLaterAppends() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 10, 1));
        store.truncateLogEntriesFrom(7);
        store.persistLogEntries(entries(7, 9, 2));
        store.flush();

        RestoredRaftState state = reopen(store).restore().orElseThrow();

        List<LogEntry> expected = new ArrayList<>(entries(1, 6, 1));
        expected.addAll(entries(7, 9, 2));
        assertEntries(expected, state.getLogEntries());
    }

    @Test
    void tornTailRecordIsDroppedAndTheStoreStillAppends() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 3, 1));
        store.persistLogEntries(List.of(entry(4, 1, "TORN-TAIL-MARKER")));
        store.flush();
        store.close();
        corrupt("TORN-TAIL-MARKER");

        ChronicleRaftStore reopened = open();
        assertEntries(entries(1, 3, 1), reopened.restore().orElseThrow().getLogEntries());
        reopened.persistLogEntries(entries(4, 5, 2));
        reopened.flush();

        RestoredRaftState state = reopen(reopened).restore().orElseThrow();
        List<LogEntry> expected = new ArrayList<>(entries(1, 3, 1));
        expected.addAll(entries(4, 5, 2));
        assertEntries(expected, state.getLogEntries());
    }

    @Test
    void recordLeftOpenByAKilledProcessIsDroppedAndTheStoreStillAppends() throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), KilledWriter.class.getName(),
                dir.toString(), snapDir.toString()));
        Process writer = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(writer.waitFor(60, TimeUnit.SECONDS), "the writer did not die");
        assertEquals(KilledWriter.HALTED, writer.exitValue());

        ChronicleRaftStore store = open();
        assertEntries(entries(1, 3, 1), store.restore().orElseThrow().getLogEntries());
        store.persistLogEntries(entries(4, 5, 2));
        store.flush();

        List<LogEntry> expected = new ArrayList<>(entries(1, 3, 1));
        expected.addAll(entries(4, 5, 2));
        assertEntries(expected, reopen(store).restore().orElseThrow().getLogEntries());
    }

    /** Dies like kill -9 in the middle of appending a record. */
    static final class KilledWriter {
        static final int HALTED = 42;

        public static void main(String[] args) throws IOException {
            ChronicleRaftStore store = openWal(Path.of(args[0]), Path.of(args[1]), CYCLE_BYTES,
                    new FailStop(Path.of(args[0]), failure -> { }));
            store.restore();
            persistIdentity(store);
            store.persistLogEntries(entries(1, 3, 1));
            store.flush();
            DocumentContext dc = store.queue().createAppender().writingDocument();
            dc.wire().bytes().write(new byte[100]);
            Runtime.getRuntime().halt(HALTED);
        }
    }

    @Test
    void recordHeaderLeftIncompleteUnderChroniclesWritePositionFailsRestore() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(entries(1, 3, 1));
        store.flush();
        long headerAt = lastRecordHeaderPosition(store);
        Path file = cycleFile();
        store.close();
        // Set the last record's header back to "being written": Chronicle then appends after it but never reads past it.
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer header = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            channel.read(header, headerAt);
            header.putInt(0, header.getInt(0) | 0x8000_0000).rewind();
            channel.write(header, headerAt);
        }

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> open().restore());
        assertTrue(e.getCause().getCause().getMessage().contains("cannot be read past"), e::toString);
    }

    @Test
    void damagedRecordFollowedByIntactOnesFailsRestore() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.persistLogEntries(List.of(entry(1, 1, "MIDDLE-MARKER")));
        store.persistLogEntries(entries(2, 3, 1));
        store.flush();
        store.close();
        corrupt("MIDDLE-MARKER");

        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> open().restore());
        assertTrue(e.getCause().getCause().getMessage().contains("followed by intact ones"), e::toString);
    }

    @Test
    void aFailureStopsTheStoreForGood() throws IOException {
        ChronicleRaftStore store = openRestored();
        persistIdentity(store);
        store.queue().close();

        assertThrows(IOException.class, () -> store.persistLogEntries(entries(1, 2, 1)));
        assertEquals(1, failures.get());
        assertThrows(IOException.class, store::flush);
        assertThrows(IOException.class, () -> store.truncateLogEntriesFrom(1));
        assertThrows(IOException.class,
                () -> store.persistAndFlushTerm(MODEL.createRaftTermPersistentStateBuilder().setTerm(2).build()));
        assertEquals(1, failures.get());
    }

    @Test
    void recordTooLargeForACycleFailsTheStore() {
        ChronicleRaftStore store = openRestored();

        assertThrows(IOException.class,
                () -> store.persistLogEntries(List.of(entry(1, 1, "x".repeat((int) (2 * CYCLE_BYTES))))));
        assertEquals(1, failures.get());
    }

    @Test
    void storeRestoredOnOneThreadIsWrittenFromAnother() throws Exception {
        ChronicleRaftStore store = openRestored();
        ExecutorService raftThread = Executors.newSingleThreadExecutor();
        try {
            raftThread.submit(() -> {
                persistIdentity(store);
                store.persistLogEntries(entries(1, 3, 1));
                store.flush();
                return null;
            }).get(30, TimeUnit.SECONDS);
        } finally {
            raftThread.shutdown();
        }

        assertEntries(entries(1, 3, 1), reopen(store).restore().orElseThrow().getLogEntries());
        assertEquals(0, failures.get());
    }

    @Test
    void microRaftNodeRestartsFromTheStore() throws IOException {
        RaftConfig config = RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(200)
                .setLeaderHeartbeatPeriodSecs(1).setLeaderHeartbeatTimeoutSecs(2).setCommitCountToTakeSnapshot(100)
                .build();
        ChronicleRaftStore store = open(16 * 1024);
        assertTrue(store.restore().isEmpty());
        KeyList keys = new KeyList();
        RaftNode node = RaftNode.newBuilder().setGroupId("metcd").setLocalEndpoint(ME)
                .setInitialGroupMembers(List.of(ME)).setConfig(config).setTransport(new NoPeers())
                .setStateMachine(keys).setStore(store).build();
        node.start().join();
        for (int i = 1; i <= 450; i++) {
            node.replicate(batch("key/" + i)).join();
        }
        node.terminate().join();
        assertEquals(400, store.lastSnapshotIndex());
        IOException closed = assertThrows(IOException.class, store::flush, "MicroRaft closes the store as it terminates");
        assertTrue(closed.getMessage().contains("is closed"), closed::toString);

        ChronicleRaftStore reopened = reopen(store);
        RestoredRaftState state = reopened.restore().orElseThrow();
        assertEquals(400, state.getSnapshotEntry().getIndex());
        assertEquals(LongStream.rangeClosed(401, 451).boxed().toList(),
                state.getLogEntries().stream().map(LogEntry::getIndex).toList());
        KeyList restoredKeys = new KeyList();
        RaftNode restarted = RaftNode.newBuilder().setGroupId("metcd").setRestoredState(state).setConfig(config)
                .setTransport(new NoPeers()).setStateMachine(restoredKeys).setStore(reopened).build();
        restarted.start().join();
        try {
            // The restarted node applies its log once it has been elected again and committed a new-term entry.
            await().atMost(Duration.ofSeconds(20)).until(() -> restoredKeys.keys.size() == 450);
            restarted.replicate(batch("key/451")).join();
            assertEquals(keys.keys, restoredKeys.keys.subList(0, 450));
            assertEquals("key/451", restoredKeys.keys.get(450));
        } finally {
            restarted.terminate().join();
        }
        assertEquals(0, failures.get());
    }

    private static Operation.Batch batch(String key) {
        return new Operation.Batch(0, List.of(new Operation.Proposal(1, 0, Command.put(key, new byte[200]))));
    }

    /** The keys written, in order: enough state to see that a restart loses and repeats nothing. */
    private static final class KeyList implements StateMachine {
        final List<String> keys = new CopyOnWriteArrayList<>();

        @Override
        public Object runOperation(long commitIndex, Object operation) {
            if (operation instanceof Operation.Batch batch) {
                batch.proposals().forEach(p -> keys.add(((Command.Put) p.command()).key()));
            }
            return null;
        }

        @Override
        public void takeSnapshot(long commitIndex, Consumer<Object> chunks) {
            for (int from = 0; from < keys.size(); from += 150) {
                String part = String.join("\n", keys.subList(from, Math.min(keys.size(), from + 150)));
                chunks.accept(new Operation.SnapshotPart(part.getBytes(StandardCharsets.UTF_8)));
            }
        }

        @Override
        public void installSnapshot(long commitIndex, List<Object> chunks) {
            keys.clear();
            for (Object chunk : chunks) {
                keys.addAll(List.of(new String(((Operation.SnapshotPart) chunk).bytes(), StandardCharsets.UTF_8)
                        .split("\n")));
            }
        }

        @Override
        public Object getNewTermOperation() {
            return new Operation.NewTerm(1);
        }
    }

    /** A single-node group has nobody to talk to. */
    private static final class NoPeers implements Transport {
        @Override
        public void send(RaftEndpoint target, RaftMessage message) {
        }

        @Override
        public boolean isReachable(RaftEndpoint endpoint) {
            return true;
        }
    }

    // ----------------------------------------------------------------------------------------- helpers
}
