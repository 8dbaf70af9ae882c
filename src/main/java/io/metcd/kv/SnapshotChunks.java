package io.metcd.kv;

import io.metcd.codec.Reader;
import io.metcd.codec.Writer;

import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The snapshot format every engine writes and reads: entries {@code [key][value]} (each a {@link Writer#bytes}
 * field, the key in UTF-8) in ascending unsigned byte order of the key, cut into chunks of about
 * {@link #CHUNK_BYTES}. The bytes depend only on the state, never on the engine, so that MicroRaft may fetch the
 * chunks of one snapshot from different nodes, and a node may install a snapshot written by another engine.
 */
final class SnapshotChunks {
    /** Large enough to amortise per-chunk overhead, small enough for one peer frame (an entry may overrun it). */
    static final int CHUNK_BYTES = 1 << 20;

    private final Consumer<byte[]> out;
    private final Writer chunk = new Writer(CHUNK_BYTES + (64 << 10));
    private boolean emitted;

    /** @param out receives each chunk as soon as it is full: no more than one chunk is held here */
    SnapshotChunks(Consumer<byte[]> out) {
        this.out = out;
    }

    /** Adds the next entry; keys must come in ascending unsigned byte order. */
    void add(byte[] key, byte[] value) {
        chunk.bytes(key).bytes(value);
        if (chunk.length() >= CHUNK_BYTES) {
            out.accept(chunk.toByteArray());
            chunk.reset();
            emitted = true;
        }
    }

    /** Emits the last chunk; an empty state is one empty chunk, since MicroRaft wants at least one. */
    void finish() {
        if (chunk.length() > 0 || !emitted) {
            out.accept(chunk.toByteArray());
        }
    }

    /** Every entry of the chunks, in their order. */
    static void forEachEntry(Iterable<byte[]> chunks, BiConsumer<byte[], byte[]> entry) {
        for (byte[] bytes : chunks) {
            Reader in = new Reader(bytes);
            while (in.remaining() > 0) {
                entry.accept(in.bytes(), in.bytes());
            }
        }
    }
}
