package io.metcd.kv;

import io.metcd.model.StateView;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * The files of a disk engine in one directory: keys (UTF-8 bytes) to encoded {@link Record}s, the keys that expire
 * and when, and the log index and {@link StoreMeta} that state reflects, kept so that a table reopened after a clean
 * close or a kill -9 either holds exactly the state of the index it reports, or says it cannot be trusted
 * ({@link Format#open}). {@link DiskKVStore} does the rest.
 */
interface Table extends AutoCloseable {

    /** The index of the last {@link #write}, or of the snapshot the table was built from; 0 for a new table. */
    long appliedIndex();

    /** The store's metadata written with {@link #appliedIndex}; {@link StoreMeta#EMPTY} for a new table. */
    StoreMeta meta();

    /** The encoded record of {@code key}, or {@code null}; safe to call concurrently with {@link #write}. */
    byte[] get(byte[] key);

    /**
     * Makes the changes ({@code null} deletes the key) and records {@code index} and {@code meta} with them, as one
     * step as far as a crash goes.
     */
    void write(long index, StoreMeta meta, Map<String, Record> changes);

    /**
     * A view of the table as it is now, between two {@link #write}s, which later writes do not change: its entries
     * in ascending unsigned byte order of key, written as the snapshot format says with {@code meta} (the table's own
     * at {@code index}). Opening it takes constant time. The table stays open until the view is closed.
     */
    StateView openView(long index, StoreMeta meta);

    /**
     * The entries from {@code from} on (inclusive), in ascending unsigned byte order of key, until {@code entry}
     * returns false; no {@link #write} runs meanwhile.
     */
    void scan(byte[] from, BiPredicate<byte[], byte[]> entry);

    /** Every key that expires, and when. */
    void forEachExpiring(BiConsumer<byte[], Long> expiresAt);

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

    /** Fills a new table with entries (keys and encoded records) given in ascending unsigned byte order of key. */
    interface Builder {
        void add(byte[] key, byte[] record);

        /**
         * Records {@code index} and {@code meta} and closes the table, its background work included: once this
         * returns, no file in the directory changes until the table is {@linkplain Format#open opened} again, so that
         * the caller can force them all to disk.
         */
        void finish(long index, StoreMeta meta);

        /** Gives up: closes what is open, so that the caller can delete the directory. */
        void abort();
    }
}
