package io.metcd.kv;

import org.iq80.leveldb.DB;
import org.iq80.leveldb.DBIterator;
import org.iq80.leveldb.Options;
import org.iq80.leveldb.ReadOptions;
import org.iq80.leveldb.Snapshot;
import org.iq80.leveldb.WriteBatch;
import org.iq80.leveldb.WriteOptions;
import org.iq80.leveldb.impl.Iq80DBFactory;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * The {@code leveldb} engine: an LSM tree (write-optimised), the pure-Java iq80 LevelDB (README, "Storage
 * engines", says why not leveldbjni).
 * <p>
 * Client keys' records are stored behind a {@code 'd'} byte, the deadline of each key that expires behind an
 * {@code 'x'} byte, the applied index under the key {@code "m"} and the store's metadata under {@code "s"}, so that no
 * client key can overwrite the rest. Each {@link #write} is one {@link WriteBatch}, the applied index and metadata
 * included, which LevelDB's own log makes atomic across a kill -9; it is not synced, since the Raft WAL is the durable
 * copy.
 */
final class LevelDbTable implements Table {
    static final Format FORMAT = new Format() {
        @Override
        public String name() {
            return Engine.leveldb.name();
        }

        @Override
        public Optional<Table> open(Path dir) throws IOException {
            Files.createDirectories(dir);
            return Optional.of(new LevelDbTable(Iq80DBFactory.factory.open(dir.toFile(), new Options())));
        }

        @Override
        public Builder build(Path dir) throws IOException {
            Files.createDirectories(dir);
            // A larger memtable while loading sorted data: fewer, larger level-0 files to compact.
            DB db = Iq80DBFactory.factory.open(dir.toFile(), new Options().writeBufferSize(BUILD_BUFFER_BYTES));
            return new Builder() {
                private WriteBatch batch = db.createWriteBatch();
                private long batchBytes;

                @Override
                public void add(byte[] key, byte[] record) {
                    batch.put(dataKey(key), record);
                    long expiresAt = Record.expiresAt(record);
                    if (expiresAt != 0) {
                        batch.put(prefixed(EXPIRING, key), encode(expiresAt));
                    }
                    batchBytes += key.length + record.length;
                    if (batchBytes >= BUILD_BATCH_BYTES) {
                        db.write(batch, UNSYNCED);
                        batch = db.createWriteBatch();
                        batchBytes = 0;
                    }
                }

                /** Closing waits for LevelDB's background work: after it, no file of the table changes. */
                @Override
                public void finish(long index, StoreMeta meta) {
                    batch.put(APPLIED_INDEX, encode(index));
                    batch.put(STORE_META, meta.encode());
                    db.write(batch, UNSYNCED);
                    try {
                        db.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }

                @Override
                public void abort() {
                    closeQuietly(db);
                }
            };
        }
    };

    private static final byte DATA = 'd';
    private static final byte EXPIRING = 'x';
    private static final byte[] APPLIED_INDEX = {'m'};
    private static final byte[] STORE_META = {'s'};
    private static final WriteOptions UNSYNCED = new WriteOptions().sync(false);
    private static final int BUILD_BUFFER_BYTES = 16 << 20;
    private static final int BUILD_BATCH_BYTES = 4 << 20;
    /** A read that lost its table file to a compaction this many times in a row is not losing a race. */
    private static final int READ_ATTEMPTS = 8;

    private final DB db;

    private LevelDbTable(DB db) {
        this.db = db;
    }

    private static byte[] dataKey(byte[] key) {
        return prefixed(DATA, key);
    }

    private static byte[] prefixed(byte prefix, byte[] key) {
        byte[] k = new byte[key.length + 1];
        k[0] = prefix;
        System.arraycopy(key, 0, k, 1, key.length);
        return k;
    }

    private static byte[] encode(long index) {
        return ByteBuffer.allocate(Long.BYTES).putLong(index).array();
    }

    @Override
    public long appliedIndex() {
        byte[] stored = read(APPLIED_INDEX);
        return stored == null ? 0 : ByteBuffer.wrap(stored).getLong();
    }

    @Override
    public StoreMeta meta() {
        byte[] stored = read(STORE_META);
        return stored == null ? StoreMeta.EMPTY : StoreMeta.decode(stored);
    }

    @Override
    public byte[] get(byte[] key) {
        return read(dataKey(key));
    }

    /**
     * iq80 0.12 reads the current version of the table files without pinning it (dain/leveldb#78, open upstream): a
     * compaction that completes during the read can delete a file the read then opens, which fails it with "Could
     * not open table". The read is then made again, on the version that compaction made current.
     */
    private byte[] read(byte[] key) {
        for (int attempt = 1; ; attempt++) {
            try {
                return db.get(key);
            } catch (RuntimeException e) {
                if (!(e.getCause() instanceof FileNotFoundException) || attempt == READ_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    @Override
    public void write(long index, StoreMeta meta, Map<String, Record> changes) {
        try (WriteBatch batch = db.createWriteBatch()) {
            changes.forEach((k, record) -> {
                byte[] key = k.getBytes(StandardCharsets.UTF_8);
                if (record == null) {
                    batch.delete(dataKey(key));
                } else {
                    batch.put(dataKey(key), record.encode());
                }
                if (record == null || !record.expires()) {
                    batch.delete(prefixed(EXPIRING, key));
                } else {
                    batch.put(prefixed(EXPIRING, key), encode(record.expiresAt()));
                }
            });
            batch.put(APPLIED_INDEX, encode(index));
            batch.put(STORE_META, meta.encode());
            db.write(batch, UNSYNCED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads a LevelDB snapshot: writes made during the scan are not seen. */
    @Override
    public void scan(BiConsumer<byte[], byte[]> entry) {
        scan(DATA, new byte[0], (key, record) -> {
            entry.accept(key, record);
            return true;
        });
    }

    @Override
    public void scan(byte[] from, BiPredicate<byte[], byte[]> entry) {
        scan(DATA, from, entry);
    }

    @Override
    public void forEachExpiring(BiConsumer<byte[], Long> expiresAt) {
        scan(EXPIRING, new byte[0], (key, at) -> {
            expiresAt.accept(key, ByteBuffer.wrap(at).getLong());
            return true;
        });
    }

    /** The entries stored behind {@code prefix}, from {@code from} on, on a LevelDB snapshot. */
    private void scan(byte prefix, byte[] from, BiPredicate<byte[], byte[]> entry) {
        try (PinnedIterator pinned = pinnedIterator(); DBIterator it = pinned.iterator()) {
            for (it.seek(prefixed(prefix, from)); it.hasNext(); ) {
                Map.Entry<byte[], byte[]> e = it.next();
                byte[] key = e.getKey();
                if (key.length == 0 || key[0] != prefix
                        || !entry.test(Arrays.copyOfRange(key, 1, key.length), e.getValue())) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A snapshot and an iterator over it that read the same table files. The snapshot keeps the files of the version
     * it was taken on from deletion, but iq80 builds an iterator on the version current when the iterator is made, not
     * on the snapshot's: a compaction completing in between would leave the iterator on files nothing keeps, which it
     * opens as it goes; and a newer version may lack values the snapshot reads, since iq80's compactions drop
     * overwritten values without regard to snapshots. Compactions wait while the two are made.
     */
    private PinnedIterator pinnedIterator() throws IOException {
        try {
            db.suspendCompactions();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while pausing LevelDB's compactions");
        }
        Snapshot snapshot = null;
        try {
            snapshot = db.getSnapshot();
            return new PinnedIterator(snapshot, db.iterator(new ReadOptions().snapshot(snapshot).fillCache(false)));
        } catch (RuntimeException e) {
            if (snapshot != null) {
                snapshot.close();
            }
            throw e;
        } finally {
            db.resumeCompactions();
        }
    }

    private record PinnedIterator(Snapshot snapshot, DBIterator iterator) implements Closeable {
        @Override
        public void close() throws IOException {
            snapshot.close();
        }
    }

    @Override
    public void close() {
        try {
            db.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void closeQuietly(DB db) {
        try {
            db.close();
        } catch (IOException | RuntimeException e) {
            // Giving up on a table being built: its directory is deleted next.
        }
    }
}
