package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;
import java.util.stream.Stream;

/**
 * A store whose state outlives the process in a disk engine's {@link Table}, together with the log index it
 * reflects. A restarted node starts at that index: MicroRaft's replay of the snapshot and log at or below it
 * is skipped (see {@link AbstractKVStore}) rather than reloaded, so a restart takes the same time whatever the
 * amount of data.
 * <p>
 * Files, under the directory it is opened on: {@code CURRENT} names the live generation, a directory
 * {@code gen-<index>} holding a table that started empty (0) or from the snapshot at that index. Installing a
 * snapshot builds the next generation beside the live one, forces it to disk and only then points
 * {@code CURRENT} at it, so that a crash at any moment leaves one whole generation to open; the others are
 * deleted when the store opens.
 * <p>
 * Each applier pass becomes one {@link Table#write} carrying its last index and the store's metadata (its revision).
 * The engines write without
 * forcing the disk: the Raft WAL is the durable copy, and an engine that comes back behind it (never ahead:
 * nothing is applied before the WAL holds it) catches up from it.
 * <p>
 * A snapshot is written from a view of the table ({@link Table#openView}), which may still be read after an install
 * replaced the table: a table replaced is closed, and its generation deleted, once its last view is closed.
 */
public final class DiskKVStore extends AbstractKVStore {
    private static final Logger LOG = LoggerFactory.getLogger(DiskKVStore.class);
    private static final String CURRENT = "CURRENT";
    private static final String GENERATION_PREFIX = "gen-";

    private final Table.Format format;
    private final Path dir;
    /** Replaced and closed only while no reader is in the state ({@link #exclusively}). */
    private volatile Table table;
    private String generation;
    /** Set by {@link #closeEngine}, which may run while the applier still works (closing waits for it only so long). */
    private volatile boolean closed;
    /** How many views of each table are open, and the generation of each table replaced meanwhile. Guarded by this. */
    private final Map<Table, Integer> openViews = new IdentityHashMap<>();
    private final Map<Table, String> replaced = new IdentityHashMap<>();

    private DiskKVStore(Table.Format format, Path dir, Table table, String generation, int localId,
            boolean fresh, Channel.Sender<Proposal> proposeC, Channel.Receiver<Commit> commitC, FailStop failStop) {
        super(localId, fresh, proposeC, commitC, table.appliedIndex(), table.meta(), failStop);
        this.format = format;
        this.dir = dir;
        this.table = table;
        this.generation = generation;
    }

    /**
     * Opens the store kept in {@code dir}, or an empty one.
     *
     * @param fresh the node has no Raft state: whatever engine files are there belong to no log and are deleted
     */
    static DiskKVStore open(Table.Format format, Path dir, boolean fresh, int localId,
            Channel.Sender<Proposal> proposeC, Channel.Receiver<Commit> commitC, FailStop failStop) {
        try {
            Files.createDirectories(dir);
            Optional<String> current = fresh ? Optional.empty() : EngineFiles.read(dir.resolve(CURRENT));
            deleteGenerationsBut(dir, current.orElse(null));
            Table table = null;
            String generation = GENERATION_PREFIX + 0;
            if (current.isPresent()) {
                table = format.open(dir.resolve(current.get())).orElse(null);
                if (table == null) {
                    LOG.warn("{} engine files in {} were not closed cleanly: rebuilding them from the Raft snapshot "
                            + "and log", format.name(), dir.resolve(current.get()));
                    EngineFiles.deleteTree(dir.resolve(current.get()));
                } else {
                    generation = current.get();
                }
            }
            if (table == null) {
                EngineFiles.deleteTree(dir.resolve(generation));
                table = format.open(dir.resolve(generation)).orElseThrow();
                EngineFiles.writeAtomically(dir.resolve(CURRENT), generation);
            }
            LOG.info("{} engine in {} opened at applied index {}", format.name(), dir.resolve(generation),
                    table.appliedIndex());
            return new DiskKVStore(format, dir, table, generation, localId, fresh, proposeC, commitC, failStop);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the " + format.name() + " engine in " + dir, e);
        }
    }

    private static void deleteGenerationsBut(Path dir, String keep) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                String name = p.getFileName().toString();
                if (name.startsWith(GENERATION_PREFIX) && !name.equals(keep)) {
                    EngineFiles.deleteTree(p);
                }
            }
        }
    }

    @Override
    public String engine() {
        return format.name();
    }

    @Override
    protected Record load(String key) {
        byte[] record = table.get(key.getBytes(StandardCharsets.UTF_8));
        return record == null ? null : Record.decode(record);
    }

    @Override
    protected void store(long index, StoreMeta meta, Map<String, Record> changes) {
        if (!closed) {
            table.write(index, meta, changes);
        }
    }

    @Override
    protected void scan(String from, BiPredicate<String, Record> visit) {
        table.scan(from.getBytes(StandardCharsets.UTF_8),
                (key, record) -> visit.test(new String(key, StandardCharsets.UTF_8), Record.decode(record)));
    }

    @Override
    protected void forEachExpiring(BiConsumer<String, Long> expiresAt) {
        table.forEachExpiring((key, at) -> expiresAt.accept(new String(key, StandardCharsets.UTF_8), at));
    }

    /** The table's own view, which keeps the table open until it is closed. */
    @Override
    protected StateView openView(long index, StoreMeta meta) {
        Table viewed = table;
        StateView view = viewed.openView(index, meta);
        synchronized (this) {
            openViews.merge(viewed, 1, Integer::sum);
        }
        AtomicBoolean closed = new AtomicBoolean();
        return new StateView() {
            @Override
            public long index() {
                return index;
            }

            @Override
            public void writeTo(OutputStream out) throws IOException {
                view.writeTo(out);
            }

            @Override
            public void close() {
                if (closed.compareAndSet(false, true)) {
                    view.close();
                    viewClosed(viewed);
                }
            }
        };
    }

    private void viewClosed(Table viewed) {
        String generationGone;
        synchronized (this) {
            if (openViews.merge(viewed, -1, Integer::sum) > 0) {
                return;
            }
            openViews.remove(viewed);
            generationGone = replaced.remove(viewed);
        }
        if (generationGone != null) {
            retire(viewed, generationGone);
        }
    }

    /** Closes a table an install replaced, and deletes its generation. */
    private void retire(Table old, String oldGeneration) {
        old.close();
        EngineFiles.deleteTree(dir.resolve(oldGeneration));
    }

    /**
     * Builds the next generation from the chunks beside the live one, then switches to it; the old one goes once no
     * view reads it.
     */
    @Override
    protected void recoverFromSnapshot(long index, StoreMeta meta, SnapshotFormat.Entries entries) {
        String next = GENERATION_PREFIX + index;
        Path nextDir = dir.resolve(next);
        long start = System.nanoTime();
        // Left over from a build that failed, at an index only a snapshot install can reach again.
        EngineFiles.deleteTree(nextDir);
        build(nextDir, index, meta, entries);
        EngineFiles.syncTree(nextDir);
        Table built = openBuilt(nextDir);
        EngineFiles.writeAtomically(dir.resolve(CURRENT), next);
        Table old = table;
        String oldGeneration = generation;
        boolean[] swapped = {false};
        exclusively(() -> {
            if (!closed) {
                table = built;
                generation = next;
                swapped[0] = true;
            }
        });
        if (!swapped[0]) {
            // Nothing may stay open; the next start opens the new generation, which CURRENT names.
            built.close();
            return;
        }
        synchronized (this) {
            if (openViews.containsKey(old)) {
                replaced.put(old, oldGeneration);
                old = null;
            }
        }
        if (old != null) {
            retire(old, oldGeneration);
        }
        LOG.info("{} engine loaded the snapshot at index {} in {} ms", format.name(), index,
                (System.nanoTime() - start) / 1_000_000);
    }

    /** Fills a table in {@code nextDir} and closes it. */
    private void build(Path nextDir, long index, StoreMeta meta, SnapshotFormat.Entries entries) {
        Table.Builder builder;
        try {
            builder = format.build(nextDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + nextDir, e);
        }
        try {
            entries.forEach(builder::add);
            builder.finish(index, meta);
        } catch (RuntimeException e) {
            builder.abort();
            EngineFiles.deleteTree(nextDir);
            throw e;
        }
    }

    private Table openBuilt(Path nextDir) {
        try {
            return format.open(nextDir).orElseThrow(() -> new IllegalStateException(
                    "the " + format.name() + " table just built in " + nextDir + " cannot be opened"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the table just built in " + nextDir, e);
        }
    }

    /** Closes the table, and those replaced whose views are still open (the node stops: nothing reads them). */
    @Override
    protected void closeEngine() {
        closed = true;
        table.close();
        List<Table> stillViewed;
        synchronized (this) {
            stillViewed = List.copyOf(replaced.keySet());
            replaced.clear();
        }
        stillViewed.forEach(Table::close);
    }
}
