package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * The snapshot format every engine writes and reads: {@code [version:1][index:8][store header]} (the store's
 * {@link StoreMeta}: its revision, the log's time, its key count), then one entry per key in ascending unsigned byte
 * order of the key, {@code [key length:4][key, UTF-8][record length:4][record]} (the {@link Record#encode encoded}
 * record), then an end mark {@code [-1:4]}. The bytes depend only on the state and its index, never on the engine, so
 * that a node may install a snapshot that another node wrote, whatever its engine. MicroRaft's chunks are slices of
 * these bytes; an entry may straddle two chunks.
 * <p>
 * A snapshot's size is fixed (as a number of chunks) before it is written, so the format also bounds it: an empty
 * state takes {@link #EMPTY_BYTES}, and a write can add at most {@link #growthBound}.
 */
public final class SnapshotFormat {
    private static final byte VERSION = 1;
    private static final int END = -1;
    /** The size of an empty state's snapshot: the header and the end mark. */
    static final long EMPTY_BYTES = 1 + Long.BYTES + StoreMeta.BYTES + Integer.BYTES;
    /** The longest decimal a long takes: what an increment may leave under a key. */
    private static final int MAX_DECIMAL_BYTES = 20;

    /** The entries of a snapshot being read: keys (UTF-8) and encoded records, in order, once. */
    @FunctionalInterface
    public interface Entries {
        void forEach(BiConsumer<byte[], byte[]> entry);
    }

    private SnapshotFormat() {
    }

    /**
     * The most {@code writes} can add to a snapshot's size: a new entry for every key a write may create (a key
     * written again replaces its record; a deletion, an expiry or a change of deadline adds nothing).
     */
    static long growthBound(List<Proposal> writes) {
        long bytes = 0;
        for (Proposal p : writes) {
            bytes += switch (p.command()) {
                case Command.Put put -> entryBound(put.key(), put.value().length);
                case Command.PutAll all -> all.pairs().stream()
                        .mapToLong(pair -> entryBound(pair.key(), pair.value().length)).sum();
                case Command.Append append -> entryBound(append.key(), append.suffix().length);
                case Command.Increment increment -> entryBound(increment.key(), MAX_DECIMAL_BYTES);
                case Command.Delete ignored -> 0;
                case Command.Expire ignored -> 0;
                case Command.Persist ignored -> 0;
                case Command.ExpireDue ignored -> 0;
            };
        }
        return bytes;
    }

    /** The most one key's entry takes with {@code valueBytes} more value (UTF-8 takes at most 3 bytes a char). */
    private static long entryBound(String key, int valueBytes) {
        return 2 * Integer.BYTES + 3L * key.length() + Record.HEADER_BYTES + valueBytes;
    }

    /** Writes one state: the header at once, then each {@link #add}, then {@link #finish}. */
    static final class Out {
        private final DataOutputStream out;

        Out(OutputStream out, long index, StoreMeta meta) throws IOException {
            this.out = new DataOutputStream(out);
            this.out.writeByte(VERSION);
            this.out.writeLong(index);
            this.out.write(meta.encode());
        }

        /** The next entry; keys come in ascending unsigned byte order. */
        void add(byte[] key, byte[] record) throws IOException {
            out.writeInt(key.length);
            out.write(key);
            out.writeInt(record.length);
            out.write(record);
        }

        /**
         * The next entry, as {@link #add(byte[], byte[])} with the key's UTF-8 and the encoded record, written without
         * encoding the record into an array of its own first: a snapshot of the in-memory engine writes every key.
         */
        void add(String key, Record record) throws IOException {
            byte[] k = keyBytes(key);
            out.writeInt(k.length);
            out.write(k);
            record.writeEncoded(out);
        }

        void finish() throws IOException {
            out.writeInt(END);
            out.flush();
        }
    }

    /**
     * A store's state at one index, written in this format: the header of its index and store metadata, the entries
     * {@link #writeEntries} adds, the end mark. Closing it lets go of what it holds ({@link #release}) once, however
     * often and on whatever threads it is closed, as {@link StateView#close} promises.
     */
    abstract static class View implements StateView {
        private final long index;
        private final StoreMeta meta;
        private final AtomicBoolean closed = new AtomicBoolean();

        View(long index, StoreMeta meta) {
            this.index = index;
            this.meta = meta;
        }

        @Override
        public final long index() {
            return index;
        }

        @Override
        public final void writeTo(OutputStream stream) throws IOException {
            Out out = new Out(stream, index, meta);
            writeEntries(out);
            out.finish();
        }

        /** Adds every entry of the state, in the format's order. */
        abstract void writeEntries(Out out) throws IOException;

        @Override
        public final void close() {
            if (closed.compareAndSet(false, true)) {
                release();
            }
        }

        /** Lets go of what holds the state; called once. */
        abstract void release();
    }

    /** A snapshot being read: its header at once, its entries as they are iterated, once. */
    static final class In implements Entries {
        private final DataInputStream in;
        private final long index;
        private final StoreMeta meta;

        /** Reads the header of the snapshot at {@code index} in {@code chunks}. */
        In(Iterable<byte[]> chunks, long index) {
            this(new ChunkStream(chunks.iterator()), index);
        }

        /** Reads the header of the snapshot at {@code index} that {@code stream} holds. */
        In(InputStream stream, long index) {
            this.in = new DataInputStream(stream);
            this.index = index;
            try {
                byte version = in.readByte();
                long at = in.readLong();
                if (version != VERSION || at != index) {
                    throw new IOException("not a snapshot at index " + index + " (version " + version + ", index "
                            + at + ")");
                }
                meta = StoreMeta.decode(in.readNBytes(StoreMeta.BYTES));
            } catch (IOException e) {
                throw damaged(e);
            }
        }

        StoreMeta meta() {
            return meta;
        }

        /** Hands every entry to {@code entry}, in order, and checks the snapshot ends where its end mark says. */
        @Override
        public void forEach(BiConsumer<byte[], byte[]> entry) {
            try (in) {
                for (int keyLength = in.readInt(); keyLength != END; keyLength = in.readInt()) {
                    byte[] key = in.readNBytes(checked(keyLength));
                    byte[] record = in.readNBytes(checked(in.readInt()));
                    entry.accept(key, record);
                }
                if (in.read() != -1) {
                    throw new IOException("the snapshot at index " + index + " goes on past its end mark");
                }
            } catch (IOException e) {
                throw damaged(e);
            }
        }

        private UncheckedIOException damaged(IOException e) {
            return e instanceof EOFException
                    ? new UncheckedIOException(new IOException("the snapshot at index " + index + " ends too soon", e))
                    : new UncheckedIOException(e);
        }

        private static int checked(int length) throws IOException {
            if (length < 0) {
                throw new IOException("a damaged snapshot: a length of " + length);
            }
            return length;
        }
    }

    static byte[] keyBytes(String key) {
        return key.getBytes(StandardCharsets.UTF_8);
    }

    /** The chunks' bytes one after the other, each chunk read only when the previous one is used up. */
    private static final class ChunkStream extends InputStream {
        private final Iterator<byte[]> chunks;
        private byte[] chunk = new byte[0];
        private int at;

        ChunkStream(Iterator<byte[]> chunks) {
            this.chunks = chunks;
        }

        private boolean more() {
            while (at == chunk.length) {
                if (!chunks.hasNext()) {
                    return false;
                }
                chunk = chunks.next();
                at = 0;
            }
            return true;
        }

        @Override
        public int read() {
            return more() ? chunk[at++] & 0xff : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (len == 0) {
                return 0;
            }
            if (!more()) {
                return -1;
            }
            int n = Math.min(len, chunk.length - at);
            System.arraycopy(chunk, at, b, off, n);
            at += n;
            return n;
        }
    }
}
