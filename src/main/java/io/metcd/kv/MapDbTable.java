package io.metcd.kv;

import io.metcd.model.StateView;
import org.mapdb.Atomic;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * The {@code mapdb} engine: a MapDB B+tree in one memory-mapped file, read-optimised like BoltDB.
 * <p>
 * MapDB's own transactions cost 4-5 ms of fsync per commit and make every write go through its WAL, several
 * times slower than writing in place; the Raft WAL already is the durable copy, so this table writes in place
 * without transactions. A write interrupted by a kill -9 can leave such a file torn, so the table is trusted
 * only if it was closed cleanly: a marker file exists while it is open, and a table found with its marker is
 * rebuilt from the Raft snapshot and log instead ({@link Format#open} says so). Records live outside the tree's
 * nodes, so that rewriting a node does not copy up to 32 values of up to 1 MiB each. A second tree holds the deadline
 * of each key that expires. MapDB keeps no versions without its transactions: snapshots are written from views made of
 * the tree and the pre-images of the keys written since ({@link PreImages}).
 */
final class MapDbTable implements Table {
    static final Format FORMAT = new Format() {
        @Override
        public String name() {
            return Engine.mapdb.name();
        }

        @Override
        public Optional<Table> open(Path dir) throws IOException {
            Files.createDirectories(dir);
            if (Files.exists(dir.resolve(OPEN_MARKER))) {
                return Optional.empty();
            }
            DB db = openDb(dir);
            return Optional.of(new MapDbTable(dir, db, tree(db).createOrOpen(), expiringTree(db).createOrOpen()));
        }

        @Override
        public Builder build(Path dir) throws IOException {
            Files.createDirectories(dir);
            DB db = openDb(dir);
            // MapDB's bulk load writes the tree bottom-up from sorted entries, several times faster than puts.
            DB.TreeMapSink<byte[], byte[]> sink = tree(db).createFromSink();
            BTreeMap<byte[], Long> expiring = expiringTree(db).create();
            return new Builder() {
                @Override
                public void add(byte[] key, byte[] record) {
                    sink.put(key, record);
                    long expiresAt = Record.expiresAt(record);
                    if (expiresAt != 0) {
                        expiring.put(key, expiresAt);
                    }
                }

                @Override
                public void finish(long index, StoreMeta meta) {
                    new MapDbTable(dir, db, sink.create(), expiring).close(index, meta);
                }

                @Override
                public void abort() {
                    if (!db.isClosed()) {
                        db.close();
                    }
                }
            };
        }
    };

    private static final String FILE = "kv.mapdb";
    /** Exists while the file is open: found when opening, it means the process died with the file open. */
    private static final String OPEN_MARKER = "OPEN";

    private final Path dir;
    private final DB db;
    private final BTreeMap<byte[], byte[]> map;
    private final BTreeMap<byte[], Long> expiring;
    private final Atomic.Long applied;
    private final Atomic.Var<byte[]> meta;
    private final PreImages<byte[], byte[]> views;

    private MapDbTable(Path dir, DB db, BTreeMap<byte[], byte[]> map, BTreeMap<byte[], Long> expiring) {
        this.dir = dir;
        this.db = db;
        this.map = map;
        this.expiring = expiring;
        this.applied = db.atomicLong("applied-index").createOrOpen();
        this.meta = db.atomicVar("store-meta", Serializer.BYTE_ARRAY).createOrOpen();
        this.views = new PreImages<>(map, SnapshotFormat.Out::add);
    }

    /** Marks the directory open, durably, before MapDB may write a byte. */
    private static DB openDb(Path dir) {
        EngineFiles.writeAtomically(dir.resolve(OPEN_MARKER), "open");
        return DBMaker.fileDB(dir.resolve(FILE).toFile()).fileMmapEnable().fileMmapPreclearDisable()
                .cleanerHackEnable().make();
    }

    private static DB.TreeMapMaker<byte[], byte[]> tree(DB db) {
        // BYTE_ARRAY compares unsigned, the order snapshots are cut in.
        return db.treeMap("kv", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable();
    }

    private static DB.TreeMapMaker<byte[], Long> expiringTree(DB db) {
        return db.treeMap("expiring", Serializer.BYTE_ARRAY, Serializer.LONG);
    }

    @Override
    public long appliedIndex() {
        return applied.get();
    }

    @Override
    public StoreMeta meta() {
        byte[] stored = meta.get();
        return stored == null ? StoreMeta.EMPTY : StoreMeta.decode(stored);
    }

    @Override
    public byte[] get(byte[] key) {
        return map.get(key);
    }

    @Override
    public void write(long index, StoreMeta storeMeta, Map<String, Record> changes) {
        changes.forEach((k, record) -> {
            byte[] key = k.getBytes(StandardCharsets.UTF_8);
            if (views.recording()) {
                views.beforeChange(key, map.get(key));
            }
            if (record == null) {
                map.remove(key);
            } else {
                map.put(key, record.encode());
            }
            if (record == null || !record.expires()) {
                expiring.remove(key);
            } else {
                expiring.put(key, record.expiresAt());
            }
        });
        meta.set(storeMeta.encode());
        applied.set(index);
    }

    @Override
    public StateView openView(long index, StoreMeta storeMeta) {
        return views.open(index, storeMeta);
    }

    @Override
    public void scan(byte[] from, BiPredicate<byte[], byte[]> entry) {
        for (Map.Entry<byte[], byte[]> e : map.tailMap(from, true).entrySet()) {
            if (!entry.test(e.getKey(), e.getValue())) {
                return;
            }
        }
    }

    @Override
    public void forEachExpiring(BiConsumer<byte[], Long> expiresAt) {
        expiring.forEach(expiresAt);
    }

    @Override
    public void close() {
        close(applied.get(), meta());
    }

    /**
     * Records {@code index} and {@code storeMeta}, forces the file to disk, then removes the marker; if anything
     * fails, the marker stays and the next start rebuilds.
     */
    private void close(long index, StoreMeta storeMeta) {
        applied.set(index);
        meta.set(storeMeta.encode());
        db.commit();
        db.close();
        try {
            Files.delete(dir.resolve(OPEN_MARKER));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot mark " + dir + " closed", e);
        }
        EngineFiles.syncDirectory(dir);
    }
}
