package io.metcd.kv;

import io.metcd.codec.Reader;
import io.metcd.codec.Writer;

import java.util.Iterator;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The snapshot format every engine writes and reads: entries {@code [key][record]} (each a {@link Writer#bytes}
 * field, the key in UTF-8, the record {@link Record#encode encoded}) in ascending unsigned byte order of the key,
 * after a first entry with an empty key (no client key is empty) whose record is the store's header
 * ({@link StoreMeta#encode}: its revision, the log's time, its key count), cut into chunks of about
 * {@link #CHUNK_BYTES}. The bytes depend only on the state, never on the engine, so that MicroRaft may fetch the chunks
 * of one snapshot from different nodes, and a node may install a snapshot written by another engine.
 */
public final class SnapshotChunks {
    /** Large enough to amortise per-chunk overhead, small enough for one peer frame (an entry may overrun it). */
    static final int CHUNK_BYTES = 1 << 20;
    private static final byte[] HEADER_KEY = new byte[0];

    /** The entries of a snapshot being read: keys and encoded records, in order, once. */
    @FunctionalInterface
    public interface Entries {
        void forEach(BiConsumer<byte[], byte[]> entry);
    }

    private final Consumer<byte[]> out;
    private final Writer chunk = new Writer(CHUNK_BYTES + (64 << 10));

    /** @param out receives each chunk as soon as it is full: no more than one chunk is held here */
    SnapshotChunks(Consumer<byte[]> out, byte[] header) {
        this.out = out;
        chunk.bytes(HEADER_KEY).bytes(header);
    }

    /** Adds the next entry; keys must come in ascending unsigned byte order. */
    void add(byte[] key, byte[] record) {
        chunk.bytes(key).bytes(record);
        if (chunk.length() >= CHUNK_BYTES) {
            out.accept(chunk.toByteArray());
            chunk.reset();
        }
    }

    /** Emits the last chunk, if anything is left for it (the header makes the first chunk never empty). */
    void finish() {
        if (chunk.length() > 0) {
            out.accept(chunk.toByteArray());
        }
    }

    /** Starts reading {@code chunks}: the header now, the entries after it as they are iterated. */
    static Chunks read(Iterable<byte[]> chunks) {
        return new Chunks(chunks.iterator());
    }

    /** A snapshot being read, chunk by chunk. */
    static final class Chunks {
        private final Iterator<byte[]> chunks;
        private final byte[] header;
        private Reader current;

        private Chunks(Iterator<byte[]> chunks) {
            this.chunks = chunks;
            if (!chunks.hasNext()) {
                throw new IllegalStateException("a snapshot without chunks");
            }
            current = new Reader(chunks.next());
            if (current.remaining() == 0 || current.bytes().length != 0) {
                throw new IllegalStateException("a snapshot without a store header: written by another version of "
                        + "metcd");
            }
            header = current.bytes();
        }

        byte[] header() {
            return header;
        }

        /** Every entry after the header, in order; once. */
        void forEachEntry(BiConsumer<byte[], byte[]> entry) {
            while (true) {
                while (current.remaining() == 0) {
                    if (!chunks.hasNext()) {
                        return;
                    }
                    current = new Reader(chunks.next());
                }
                entry.accept(current.bytes(), current.bytes());
            }
        }
    }
}
