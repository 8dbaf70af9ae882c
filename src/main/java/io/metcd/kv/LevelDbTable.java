package io.metcd.kv;

import io.metcd.model.Operation.Proposal;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The {@code leveldb} engine: an LSM tree (write-optimised), the pure-Java iq80 LevelDB (README, "Storage
 * engines", says why not leveldbjni).
 * <p>
 * Client keys are stored behind a {@code 'd'} byte and the applied index under the key {@code "m"}, so that no
 * client key can overwrite it. Each {@link #write} is one {@link WriteBatch}, the applied index included, which
 * LevelDB's own log makes atomic across a kill -9; it is not synced, since the Raft WAL is the durable copy.
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
                public void add(byte[] key, byte[] value) {
                    batch.put(dataKey(key), value);
                    batchBytes += key.length + value.length;
                    if (batchBytes >= BUILD_BATCH_BYTES) {
                        db.write(batch, UNSYNCED);
                        batch = db.createWriteBatch();
                        batchBytes = 0;
                    }
                }

                /** Closing waits for LevelDB's background work: after it, no file of the table changes. */
                @Override
                public void finish(long index) {
                    batch.put(APPLIED_INDEX, encode(index));
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
    private static final byte[] APPLIED_INDEX = {'m'};
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
        byte[] k = new byte[key.length + 1];
        k[0] = DATA;
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
    public void write(long index, List<Proposal> writes) {
        try (WriteBatch batch = db.createWriteBatch()) {
            for (Proposal p : writes) {
                byte[] key = dataKey(p.key().getBytes(StandardCharsets.UTF_8));
                if (p.isDelete()) {
                    batch.delete(key);
                } else {
                    batch.put(key, p.value());
                }
            }
            batch.put(APPLIED_INDEX, encode(index));
            db.write(batch, UNSYNCED);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A LevelDB snapshot, and an iterator over it that reads the table files the snapshot keeps. */
    @Override
    public StateView openView(long index) {
        return new PinnedView(index);
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
    private final class PinnedView implements StateView {
        private final long index;
        private final Snapshot snapshot;
        private final DBIterator iterator;
        private final AtomicBoolean closed = new AtomicBoolean();

        PinnedView(long index) {
            this.index = index;
            while (true) {
                Snapshot pinned = db.getSnapshot();
                DBIterator it = db.iterator(new ReadOptions().snapshot(pinned).fillCache(false));
                Snapshot after = db.getSnapshot();
                boolean sameVersion = version(pinned) == version(after);
                closeQuietly(after);
                if (sameVersion) {
                    this.snapshot = pinned;
                    this.iterator = it;
                    return;
                }
                closeQuietly(it, pinned);
            }
        }

        private static Object version(Snapshot snapshot) {
            return ((SnapshotImpl) snapshot).getVersion();
        }

        @Override
        public long index() {
            return index;
        }

        @Override
        public void writeTo(OutputStream stream) throws IOException {
            SnapshotFormat.Out out = new SnapshotFormat.Out(stream, index);
            for (iterator.seek(new byte[] {DATA}); iterator.hasNext(); ) {
                Map.Entry<byte[], byte[]> e = iterator.next();
                byte[] key = e.getKey();
                if (key.length == 0 || key[0] != DATA) {
                    break;
                }
                out.add(Arrays.copyOfRange(key, 1, key.length), e.getValue());
            }
            out.finish();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                closeQuietly(iterator, snapshot);
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
