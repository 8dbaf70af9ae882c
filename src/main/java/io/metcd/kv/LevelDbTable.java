package io.metcd.kv;

import io.metcd.model.StateView;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.DBIterator;
import org.iq80.leveldb.Options;
import org.iq80.leveldb.ReadOptions;
import org.iq80.leveldb.Snapshot;
import org.iq80.leveldb.WriteBatch;
import org.iq80.leveldb.WriteOptions;
import org.iq80.leveldb.impl.Iq80DBFactory;
import org.iq80.leveldb.impl.SnapshotImpl;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
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

    /** A LevelDB snapshot, and an iterator over it that reads the table files the snapshot keeps. */
    @Override
    public StateView openView(long index, StoreMeta meta) {
        return new PinnedView(index, meta);
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
        try (Pinned pinned = pin()) {
            pinned.forEach(prefix, from, entry);
        }
    }

    /**
     * A snapshot and an iterator over it that read the same table files. The snapshot keeps the files of the version
     * it was taken on from deletion, but iq80 builds an iterator on the version current when the iterator is made, not
     * on the snapshot's: a compaction completing in between would leave the iterator on files nothing keeps, which it
     * opens as it goes; and a newer version may lack values the snapshot reads, since iq80's compactions drop
     * overwritten values without regard to snapshots. So the two are made again until no compaction completed in
     * between (a second snapshot names the version then current), rather than with compactions paused: pausing waits
     * for the compaction under way, which can take seconds while the applier, the only writer, waits.
     */
    private Pinned pin() {
        while (true) {
            Snapshot pinned = db.getSnapshot();
            DBIterator it = db.iterator(new ReadOptions().snapshot(pinned).fillCache(false));
            Snapshot after = db.getSnapshot();
            boolean sameVersion = version(pinned) == version(after);
            closeQuietly(after);
            if (sameVersion) {
                return new Pinned(pinned, it);
            }
            closeQuietly(it, pinned);
        }
    }

    private static Object version(Snapshot snapshot) {
        return ((SnapshotImpl) snapshot).getVersion();
    }

    /** A snapshot and the iterator over its files ({@link #pin}). */
    private record Pinned(Snapshot snapshot, DBIterator iterator) implements AutoCloseable {
        /** The entries stored behind {@code prefix}, from {@code from} on, until {@code entry} returns false. */
        void forEach(byte prefix, byte[] from, BiPredicate<byte[], byte[]> entry) {
            for (iterator.seek(prefixed(prefix, from)); iterator.hasNext(); ) {
                Map.Entry<byte[], byte[]> e = iterator.next();
                byte[] key = e.getKey();
                if (key.length == 0 || key[0] != prefix
                        || !entry.test(Arrays.copyOfRange(key, 1, key.length), e.getValue())) {
                    return;
                }
            }
        }

        @Override
        public void close() {
            closeQuietly(iterator, snapshot);
        }
    }

    /** The table at one index, pinned until it is closed. */
    private final class PinnedView implements StateView {
        private final long index;
        private final StoreMeta meta;
        private final Pinned pinned = pin();
        private final AtomicBoolean closed = new AtomicBoolean();

        PinnedView(long index, StoreMeta meta) {
            this.index = index;
            this.meta = meta;
        }

        @Override
        public long index() {
            return index;
        }

        @Override
        public void writeTo(OutputStream stream) throws IOException {
            SnapshotFormat.Out out = new SnapshotFormat.Out(stream, index, meta);
            IOException[] failed = {null};
            pinned.forEach(DATA, new byte[0], (key, record) -> {
                try {
                    out.add(key, record);
                    return true;
                } catch (IOException e) {
                    failed[0] = e;
                    return false;
                }
            });
            if (failed[0] != null) {
                throw failed[0];
            }
            out.finish();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                pinned.close();
            }
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

    /** Closes what is given up on: a view's iterator and snapshot, a table being built (deleted next). */
    private static void closeQuietly(Closeable... closeables) {
        for (Closeable c : closeables) {
            try {
                c.close();
            } catch (IOException | RuntimeException e) {
                // Nothing depends on them any more.
            }
        }
    }
}
