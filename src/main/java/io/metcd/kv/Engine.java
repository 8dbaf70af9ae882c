package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The storage engines {@code --engine} chooses from. The constants are named as the flag spells them.
 * <p>
 * Every engine keeps its files, and a file {@code NAME} naming the engine that wrote them, in
 * {@code <data-dir>/engine}. A node refuses to open a data directory another engine wrote: its engine files
 * would be ignored, and a node that silently started from an empty store would be worse than one that stops.
 */
public enum Engine {
    /** In memory; rebuilt from the Raft snapshot and log at every start. */
    map(null),
    /** A MapDB B+tree, read-optimised ({@link MapDbTable}). */
    mapdb(MapDbTable.FORMAT),
    /** An LSM tree, write-optimised ({@link LevelDbTable}). */
    leveldb(LevelDbTable.FORMAT);

    static final String NAME_FILE = "NAME";

    private final Table.Format format;

    Engine(Table.Format format) {
        this.format = format;
    }

    /** Whether the engine keeps its state across restarts (and so skips replaying it). */
    public boolean persistent() {
        return format != null;
    }

    /**
     * Opens this engine's store in {@code dataDir}.
     *
     * @param fresh    the node has no Raft state yet: engine files, if any, belong to no log and are discarded
     * @param failStop stops the node if the store's applier fails
     * @throws IllegalStateException if another engine wrote the data directory
     */
    public KVStore open(Path dataDir, boolean fresh, int localId, Channel.Sender<Proposal> proposeC,
            Channel.Receiver<Commit> commitC, FailStop failStop) {
        Path dir = dataDir.resolve("engine");
        Path nameFile = dir.resolve(NAME_FILE);
        Optional<String> recordedName = EngineFiles.read(nameFile);
        String recorded = recordedName.orElse(name());
        if (!recorded.equals(name())) {
            throw new IllegalStateException("the data directory " + dataDir + " was written by engine " + recorded
                    + ", not " + name() + ": start it with --engine " + recorded
                    + " (a node changes engine only as a new member, on an empty data directory)");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
        if (recordedName.isEmpty()) {
            EngineFiles.writeAtomically(nameFile, name());
        }
        return persistent() ? DiskKVStore.open(format, dir, fresh, localId, proposeC, commitC, failStop)
                : new MapKVStore(localId, fresh, proposeC, commitC, failStop);
    }
}
