package io.metcd.kv;

import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The files of a disk engine in one directory: keys (UTF-8 bytes) to values, and the log index that state
 * reflects, kept so that a table reopened after a clean close or a kill -9 either holds exactly the state of
 * the index it reports, or says it cannot be trusted ({@link Format#open}). {@link DiskKVStore} does the rest.
 */
interface Table extends AutoCloseable {

    /** The index of the last {@link #write}, or of the snapshot the table was built from; 0 for a new table. */
    long appliedIndex();

    /** The value of {@code key}, or {@code null}; safe to call concurrently with {@link #write}. */
    byte[] get(byte[] key);

    /** Applies the writes in order and records {@code index} with them, as one step as far as a crash goes. */
    void write(long index, List<Proposal> writes);

    /**
     * A view of the table as it is now, between two {@link #write}s, which later writes do not change: its entries
     * in ascending unsigned byte order of key, written as the snapshot format says. Opening it takes constant time. The
     * table stays open until the view is closed.
     */
    StateView openView(long index);

    /** Closes the files cleanly: a reopened table then holds all that was written. */
    @Override
    void close();

    /** An engine's way of opening and building tables. */
    interface Format {
        /** The engine's name, as given to {@code --engine}. */
        String name();

        /**
         * Opens the table in {@code dir}, or creates an empty one there if the directory is empty.
         *
         * @return empty if the files were left in a state the engine cannot recover (then the caller deletes
         *         them and rebuilds from the Raft snapshot and log)
         */
        Optional<Table> open(Path dir) throws IOException;

        /** Starts building a table in the new, empty directory {@code dir}. */
        Builder build(Path dir) throws IOException;
    }

    /** Fills a new table with entries given in ascending unsigned byte order of key. */
    interface Builder {
        void add(byte[] key, byte[] value);

        /**
         * Records {@code index} and closes the table, its background work included: once this returns, no file in
         * the directory changes until the table is {@linkplain Format#open opened} again, so that the caller can force
         * them all to disk.
         */
        void finish(long index);

        /** Gives up: closes what is open, so that the caller can delete the directory. */
        void abort();
    }
}
