package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The leveldb engine while LevelDB compacts in the background, which it does on its own after any large load or
 * under writes: a compaction writes new table files and deletes those they replace, so nothing may depend on a file
 * LevelDB listed a moment earlier still being there.
 */
class LevelDbUnderCompactionTest {
    /** Enough for several memtables of a snapshot build: LevelDB compacts while and after a snapshot loads. */
    private static final int SNAPSHOT_KEYS = 200_000;
    private static final int VALUE_BYTES = 500;
    private static final int INSTALLS = 3;

    /** Keys written once before the readers start, which they read while other keys are written. */
    private static final int STABLE_KEYS = 20_000;
    /**
     * More readers than cores, so that a read is sometimes suspended half-way while a compaction completes, but few
     * enough to leave LevelDB the time to compact often.
     */
    private static final int READERS = 4;
    private static final int WRITES_PER_BATCH = 200;
    private static final Duration SCAN_PAUSE = Duration.ofMillis(500);
    private static final Duration UNDER_LOAD = Duration.ofSeconds(10);

    /** The stable keys and their values, made once: a reader's time goes to reading. */
    private static final byte[][] STABLE = IntStream.range(0, STABLE_KEYS)
            .mapToObj(i -> key(i).getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
    private static final byte[][] STABLE_VALUES = IntStream.range(0, STABLE_KEYS)
            .mapToObj(i -> record(i).encode()).toArray(byte[][]::new);

    @TempDir
    Path dataDir;

    @Test
    void snapshotsLargeEnoughToMakeLevelDbCompactInstallOneAfterAnother() {
        AbstractKVStore store = (AbstractKVStore) Engine.leveldb.open(dataDir, true, 1,
                new Channel<Proposal>(1).sender(), new Channel<Commit>(1).receiver(), new FailStop(dataDir, failure -> { }));
        try {
            SnapshotFormat.Entries snapshot = snapshotOf(SNAPSHOT_KEYS);
            for (int install = 1; install <= INSTALLS; install++) {
                store.recoverFromSnapshot(1000L * install, StoreMeta.EMPTY, snapshot);
                assertThat(store.lookup(key(0))).isEqualTo(value(0));
                assertThat(store.lookup(key(SNAPSHOT_KEYS - 1))).isEqualTo(value(SNAPSHOT_KEYS - 1));
            }
        } finally {
            store.close();
        }
    }

    /**
     * What a table's builder leaves must hold still once it is finished: the store forces those files to disk, then
     * names the directory the live one, and a file deleted or written meanwhile breaks the first or escapes it.
     */
    @Test
    void aFinishedTableLeavesItsFilesAsTheyAreUntilItIsOpenedAgain() throws Exception {
        Path dir = dataDir.resolve("built");
        Table.Builder builder = LevelDbTable.FORMAT.build(dir);
        snapshotOf(SNAPSHOT_KEYS).forEach(builder::add);
        builder.finish(1, StoreMeta.EMPTY);
        Set<String> finished = files(dir);
        // The last memtable of a build this size is still being written out as the build ends.
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(files(dir)).isEqualTo(finished));
    }

    @Test
    void getsAndSnapshotScansNeverFailWhileWritesKeepLevelDbCompacting() throws Exception {
        Table table = LevelDbTable.FORMAT.open(dataDir.resolve("table")).orElseThrow();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicLong reads = new AtomicLong();
        AtomicLong scans = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        try {
            Map<String, Record> stable = new HashMap<>();
            IntStream.range(0, STABLE_KEYS).forEach(i -> stable.put(key(i), record(i)));
            table.write(1, StoreMeta.EMPTY, stable);
            threads.add(Thread.ofPlatform().start(() -> keepWriting(table, stop, failures)));
            for (int r = 0; r < READERS; r++) {
                threads.add(Thread.ofPlatform().start(() -> keepReading(table, stop, reads, failures)));
            }
            threads.add(Thread.ofPlatform().start(() -> keepScanning(table, stop, scans, failures)));
            // The stable keys' table and the first few the writes made: compaction replaces some of them.
            Set<String> tablesBefore = await().atMost(Duration.ofSeconds(10))
                    .until(() -> tableFiles(dataDir.resolve("table")), tables -> tables.size() >= 4);
            Thread.sleep(UNDER_LOAD.toMillis());
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            assertThat(failures).as("reads and scans that failed").isEmpty();
            assertThat(reads.get()).as("reads").isGreaterThan(1000);
            assertThat(scans.get()).as("scans").isPositive();
            Set<String> tablesAfter = tableFiles(dataDir.resolve("table"));
            assertThat(tablesBefore).as("tables compacted away meanwhile").anyMatch(t -> !tablesAfter.contains(t));
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            table.close();
        }
    }

    /** Writes keys of its own between the stable ones, so that the tables holding those keep being merged. */
    private static void keepWriting(Table table, AtomicBoolean stop, Queue<Throwable> failures) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        try {
            for (long index = 2; !stop.get(); index++) {
                Map<String, Record> batch = new HashMap<>();
                for (int i = 0; i < WRITES_PER_BATCH; i++) {
                    String between = key(random.nextInt(STABLE_KEYS)) + "~" + random.nextInt(10);
                    batch.put(between, record(i));
                }
                table.write(index, StoreMeta.EMPTY, batch);
            }
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    private static void keepReading(Table table, AtomicBoolean stop, AtomicLong reads, Queue<Throwable> failures) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        while (!stop.get()) {
            int i = random.nextInt(STABLE_KEYS);
            try {
                byte[] read = table.get(STABLE[i]);
                if (!Arrays.equals(read, STABLE_VALUES[i])) {
                    failures.add(new AssertionError(key(i) + " read as " + Arrays.toString(read)));
                }
                reads.incrementAndGet();
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
    }

    /**
     * Every stable key is in every scan, whatever the writes did meanwhile. Pauses between scans: a scan keeps the
     * table files it started on until it ends, which, scans following one another, would shelter most reads.
     */
    private static void keepScanning(Table table, AtomicBoolean stop, AtomicLong scans, Queue<Throwable> failures) {
        int stableKeyLength = key(0).length();
        while (!stop.get()) {
            AtomicLong stable = new AtomicLong();
            try {
                read(table.openView(0, StoreMeta.EMPTY), (key, value) -> {
                    if (key.length == stableKeyLength) {
                        stable.incrementAndGet();
                    }
                });
                if (stable.get() != STABLE_KEYS) {
                    failures.add(new AssertionError("a scan saw " + stable + " stable keys of " + STABLE_KEYS));
                }
                scans.incrementAndGet();
            } catch (RuntimeException e) {
                failures.add(e);
            }
            LockSupport.parkNanos(SCAN_PAUSE.toNanos());
        }
    }

    /** The entries of a snapshot of {@code keys} keys, each made as it is read, as they come from the WAL. */
    static SnapshotFormat.Entries snapshotOf(int keys) {
        return entry -> IntStream.range(0, keys)
                .forEach(i -> entry.accept(key(i).getBytes(StandardCharsets.UTF_8), record(i).encode()));
    }

    static Record record(int i) {
        return new Record(value(i), 1, 1, 1, 0);
    }

    /** Every entry {@code view} writes, read as it writes them; closes the view. */
    static void read(StateView view, BiConsumer<byte[], byte[]> entry) {
        try (view) {
            new SnapshotFormat.In(() -> chunksOf(view::writeTo), view.index()).forEach(entry);
        }
    }

    /** What {@code writer} writes, on a thread of its own, as chunks of up to 64 KiB. */
    private static Iterator<byte[]> chunksOf(ThrowingWriter writer) {
        PipedInputStream in = new PipedInputStream(64 << 10);
        PipedOutputStream pipe;
        try {
            pipe = new PipedOutputStream(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread.ofPlatform().daemon().start(() -> {
            try (pipe) {
                writer.writeTo(pipe);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        return new Iterator<>() {
            private byte[] next = read();

            private byte[] read() {
                try {
                    byte[] chunk = in.readNBytes(64 << 10);
                    return chunk.length == 0 ? null : chunk;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public byte[] next() {
                byte[] chunk = next;
                next = read();
                return chunk;
            }
        };
    }

    @FunctionalInterface
    private interface ThrowingWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    /** Zero-padded, so that the keys come in the snapshot's byte order. */
    static String key(int i) {
        return String.format("key-%08d", i);
    }

    static byte[] value(int i) {
        byte[] value = new byte[VALUE_BYTES];
        byte[] tag = Integer.toString(i).getBytes(StandardCharsets.UTF_8);
        System.arraycopy(tag, 0, value, 0, tag.length);
        return value;
    }

    private static Set<String> files(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    private static Set<String> tableFiles(Path dir) throws IOException {
        return files(dir).stream().filter(name -> name.endsWith(".sst")).collect(Collectors.toSet());
    }
}
