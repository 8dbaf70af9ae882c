package io.metcd.wal;

import io.metcd.codec.Codec;
import io.metcd.codec.Reader;
import io.metcd.codec.Writer;
import io.metcd.model.Operation.ChunkSource.Closed;
import io.metcd.model.Operation.ChunkSource.Unavailable;
import io.microraft.model.log.RaftGroupMembersView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * How one snapshot is laid out on disk, and nothing about which snapshots exist: the file is {@code snap-<index in
 * 16 hex digits>}, so that names sort as indexes do; chunk {@code k} lies at offset {@code k * chunkBytes} (so chunks
 * can be written in any order, as they arrive) and holds up to {@code chunkBytes}; after the last non-empty chunk comes
 * the trailer, then the trailer's length and a magic number, so that a reader finds it from the end of the file.
 * <p>
 * The trailer holds the magic number, a version, the snapshot's index and term, the chunk size, the chunk count, each
 * chunk's length and CRC32C, the members, and a CRC32C of all that. A file whose trailer is missing, damaged, of
 * another chunk size or for another index than its name says is not a snapshot: {@link #readTrailer} says so, and the
 * caller deletes it. Stateless; every method is safe on any thread.
 */
final class SnapshotFileLayout {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFileLayout.class);
    private static final String PREFIX = "snap-";
    private static final int MAGIC = 0x4d534e50;
    private static final byte VERSION = 1;
    /** The trailer's length and the magic number again, at the very end of a durable file. */
    private static final int END_BYTES = 2 * Integer.BYTES;

    private SnapshotFileLayout() {
    }

    /** What the trailer of a durable snapshot file says; {@code lengths} and {@code crcs} have one entry a chunk. */
    record Trailer(long index, int term, RaftGroupMembersView members, int[] lengths, int[] crcs) {
    }

    /** The name of the file of the snapshot at {@code index}. */
    static String fileName(long index) {
        return PREFIX + String.format("%016x", index);
    }

    /** Whether {@code path} names a snapshot file (durable or not). */
    static boolean isSnapshotFile(Path path) {
        return path.getFileName().toString().startsWith(PREFIX);
    }

    /** Where chunk {@code chunk} begins. */
    static long offset(int chunk, int chunkBytes) {
        return (long) chunk * chunkBytes;
    }

    static int crc(byte[] bytes, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, length);
        return (int) crc.getValue();
    }

    /** Writes all of {@code bytes} at {@code at}: a positional write may write less than it was given. */
    static void writeFully(FileChannel channel, ByteBuffer bytes, long at) throws IOException {
        long position = at;
        while (bytes.hasRemaining()) {
            position += channel.write(bytes, position);
        }
    }

    /**
     * Writes the trailer right after the last non-empty chunk and syncs the file, metadata included. The caller has
     * synced the chunks first, so that a trailer on disk never stands for chunks that are not.
     */
    static void appendTrailer(FileChannel channel, Trailer t, int chunkBytes) throws IOException {
        long dataEnd = 0;
        for (int k = 0; k < t.lengths.length; k++) {
            if (t.lengths[k] > 0) {
                dataEnd = offset(k, chunkBytes) + t.lengths[k];
            }
        }
        writeFully(channel, ByteBuffer.wrap(encode(t, chunkBytes)), dataEnd);
        channel.force(true);
    }

    /** Syncs {@code dir}, so that a file created or deleted in it stays so after a crash. */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static byte[] encode(Trailer t, int chunkBytes) {
        int count = t.lengths.length;
        Writer out = new Writer(64 + 8 * count);
        out.i32(MAGIC).u8(VERSION).i64(t.index).i32(t.term).i32(chunkBytes).i32(count);
        for (int k = 0; k < count; k++) {
            out.i32(t.lengths[k]).i32(t.crcs[k]);
        }
        Codec.writeMembersView(out, t.members);
        int crc = crc(out.array(), out.length());
        int trailerLength = out.length() + Integer.BYTES;
        return out.i32(crc).i32(trailerLength).i32(MAGIC).toByteArray();
    }

    /**
     * The trailer of the snapshot file {@code path}, written with chunks of {@code chunkBytes}; empty if it is
     * missing, damaged or does not match the file (a crash interrupted the file before its trailer was synced).
     */
    static Optional<Trailer> readTrailer(Path path, int chunkBytes) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < END_BYTES) {
                return Optional.empty();
            }
            ByteBuffer end = ByteBuffer.allocate(END_BYTES);
            channel.read(end, size - END_BYTES);
            int trailerLength = end.getInt(0);
            if (end.getInt(Integer.BYTES) != MAGIC || trailerLength < Integer.BYTES
                    || trailerLength > size - END_BYTES) {
                return Optional.empty();
            }
            byte[] trailer = new byte[trailerLength];
            ByteBuffer into = ByteBuffer.wrap(trailer);
            long at = size - END_BYTES - trailerLength;
            while (into.hasRemaining() && channel.read(into, at + into.position()) > 0) {
                // reads until full
            }
            Reader in = new Reader(trailer);
            int storedCrc = ByteBuffer.wrap(trailer, trailerLength - Integer.BYTES, Integer.BYTES).getInt();
            if (crc(trailer, trailerLength - Integer.BYTES) != storedCrc || in.i32() != MAGIC || in.u8() != VERSION) {
                return Optional.empty();
            }
            long index = in.i64();
            int term = in.i32();
            int fileChunkBytes = in.i32();
            int count = in.i32();
            if (fileChunkBytes != chunkBytes || count <= 0 || !path.getFileName().toString().equals(fileName(index))) {
                return Optional.empty();
            }
            int[] lengths = new int[count];
            int[] crcs = new int[count];
            for (int k = 0; k < count; k++) {
                lengths[k] = in.i32();
                crcs[k] = in.i32();
            }
            return Optional.of(new Trailer(index, term, Codec.readMembersView(in), lengths, crcs));
        } catch (IOException | RuntimeException e) {
            LOG.warn("snapshot file {} cannot be read: {}", path, e.toString());
            return Optional.empty();
        }
    }

    /**
     * Reads chunk {@code chunk} of the snapshot at {@code index} from {@code path}, {@code length} bytes that must
     * have the CRC32C {@code expectedCrc}; the exceptions are those of {@link io.metcd.model.Operation.ChunkSource}.
     */
    static byte[] readChunk(Path path, long index, int chunk, int chunkBytes, int length, int expectedCrc) {
        byte[] bytes = new byte[length];
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer into = ByteBuffer.wrap(bytes);
            long at = offset(chunk, chunkBytes);
            while (into.hasRemaining()) {
                int n = channel.read(into, at + into.position());
                if (n < 0) {
                    throw new IOException("snapshot file " + path + " ends inside chunk " + chunk);
                }
            }
        } catch (NoSuchFileException e) {
            throw new Unavailable("the snapshot at " + index + " is gone: a newer one replaced it");
        } catch (ClosedByInterruptException e) {
            throw new Closed("interrupted while reading the snapshot at " + index, e);
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException("cannot read chunk " + chunk + " of " + path, e));
        }
        if (crc(bytes, length) != expectedCrc) {
            throw new UncheckedIOException(new IOException("snapshot file " + path + " has a damaged chunk " + chunk));
        }
        return bytes;
    }
}
