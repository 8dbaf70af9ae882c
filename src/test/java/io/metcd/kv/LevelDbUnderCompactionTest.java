package io.metcd.kv;

import io.metcd.raft.Commit;
import io.metcd.raft.PendingWrite;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
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
    /** Fewer than fill a chunk: each range of keys makes exactly one. */
    private static final int KEYS_PER_CHUNK = SnapshotChunks.CHUNK_BYTES / (VALUE_BYTES + 32);

    @TempDir
    Path dataDir;

    @Test
    void snapshotsLargeEnoughToMakeLevelDbCompactInstallOneAfterAnother() {
        AbstractKVStore store = Engine.leveldb.open(dataDir, true, 1, new ArrayBlockingQueue<PendingWrite>(1),
                new ArrayBlockingQueue<Commit>(1));
        try {
            Iterable<byte[]> snapshot = snapshotOf(SNAPSHOT_KEYS);
            for (int install = 1; install <= INSTALLS; install++) {
                store.recoverFromSnapshot(1000L * install, snapshot);
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
        SnapshotChunks.forEachEntry(snapshotOf(SNAPSHOT_KEYS), builder::add);
        builder.finish(1);
        Set<String> finished = files(dir);
        // The last memtable of a build this size is still being written out as the build ends.
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(files(dir)).isEqualTo(finished));
    }

    /** The chunks of a snapshot of {@code keys} keys, made one at a time as they are iterated, as the WAL reads them. */
    static Iterable<byte[]> snapshotOf(int keys) {
        int ranges = (keys + KEYS_PER_CHUNK - 1) / KEYS_PER_CHUNK;
        return () -> IntStream.range(0, ranges).mapToObj(r -> {
            List<byte[]> chunk = new ArrayList<>(1);
            SnapshotChunks out = new SnapshotChunks(chunk::add);
            for (int i = r * KEYS_PER_CHUNK; i < Math.min(keys, (r + 1) * KEYS_PER_CHUNK); i++) {
                out.add(key(i).getBytes(StandardCharsets.UTF_8), value(i));
            }
            out.finish();
            return chunk.getFirst();
        }).iterator();
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
}
