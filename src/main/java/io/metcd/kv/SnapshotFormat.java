package io.metcd.kv;

import io.metcd.model.Operation.Proposal;

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
import java.util.function.BiConsumer;

/**
 * The snapshot format every engine writes and reads: {@code [version:1][index:8]}, then one entry per key in ascending
 * unsigned byte order of the key, {@code [key length:4][key, UTF-8][record length:4][record]}, then an end mark
 * {@code [-1:4]}. The record is what the engine stores under the key (the value). The bytes depend only on the state
 * and its index, never on the engine, so that a node may install a snapshot that another node wrote, whatever its
 * engine. MicroRaft's chunks are slices of these bytes; an entry may straddle two chunks.
 * <p>
 * A snapshot's size is fixed (as a number of chunks) before it is written, so the format also bounds it: an empty
 * state takes {@link #EMPTY_BYTES}, and a write can add at most {@link #growthBound} (a key written again replaces its
 * record; one deleted removes its entry).
 */
final class SnapshotFormat {
    private static final byte VERSION = 1;
    private static final int END = -1;
    /** The size of an empty state's snapshot: the header and the end mark. */
    static final long EMPTY_BYTES = 1 + Long.BYTES + Integer.BYTES;

    private SnapshotFormat() {
    }

    /** The most {@code writes} can add to a snapshot's size. */
    static long growthBound(List<Proposal> writes) {
        long bytes = 0;
        for (Proposal p : writes) {
            if (!p.isDelete()) {
                // UTF-8 takes at most three bytes per UTF-16 unit.
                bytes += 2 * Integer.BYTES + 3L * p.key().length() + p.value().length;
            }
        }
        return bytes;
    }

    /** Writes one state: the header at once, then each {@link #add}, then {@link #finish}. */
    static final class Out {
        private final DataOutputStream out;

        Out(OutputStream out, long index) throws IOException {
            this.out = new DataOutputStream(out);
            this.out.writeByte(VERSION);
            this.out.writeLong(index);
        }

        /** The next entry; keys come in ascending unsigned byte order. */
        void add(byte[] key, byte[] record) throws IOException {
            out.writeInt(key.length);
            out.write(key);
            out.writeInt(record.length);
            out.write(record);
        }

        void finish() throws IOException {
            out.writeInt(END);
            out.flush();
        }
    }

    /** Hands every entry of the snapshot at {@code index} in {@code chunks} to {@code entry}, in order. */
    static void read(Iterable<byte[]> chunks, long index, BiConsumer<byte[], byte[]> entry) {
        read(new ChunkStream(chunks.iterator()), index, entry);
    }

    /** Hands every entry of the snapshot at {@code index} that {@code stream} holds to {@code entry}, in order. */
    static void read(InputStream stream, long index, BiConsumer<byte[], byte[]> entry) {
        try (DataInputStream in = new DataInputStream(stream)) {
            byte version = in.readByte();
            long at = in.readLong();
            if (version != VERSION || at != index) {
                throw new IOException("not a snapshot at index " + index + " (version " + version + ", index " + at
                        + ")");
            }
            for (int keyLength = in.readInt(); keyLength != END; keyLength = in.readInt()) {
                byte[] key = in.readNBytes(checked(keyLength));
                byte[] record = in.readNBytes(checked(in.readInt()));
                entry.accept(key, record);
            }
            if (in.read() != -1) {
                throw new IOException("the snapshot at index " + index + " goes on past its end mark");
            }
        } catch (EOFException e) {
            throw new UncheckedIOException(new IOException("the snapshot at index " + index + " ends before its end "
                    + "mark", e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int checked(int length) throws IOException {
        if (length < 0) {
            throw new IOException("a damaged snapshot: a length of " + length);
        }
        return length;
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
