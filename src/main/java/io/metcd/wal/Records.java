package io.metcd.wal;

import io.metcd.codec.Reader;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The WAL's record format: one Chronicle document per record, laid out as {@code [crc32c:4][tag:1][payload]} with the
 * CRC over tag and payload. The payloads use the codec; the ones restore needs to find without decoding carry their
 * Raft indices up front. The queue is append-only, so truncations and deletions are markers that restore applies to
 * what was written before them.
 */
final class Records {
    // Record tags: the byte after the CRC. Never renumber; the WAL outlives the code that wrote it.
    /** The local endpoint's persistent state. */
    static final byte ENDPOINT = 1;
    /** The initial group members. */
    static final byte INITIAL_MEMBERS = 2;
    /** The term and the vote. */
    static final byte TERM = 3;
    /** {@code [first index:8][count:4][entries]}. */
    static final byte ENTRIES = 4;
    /** {@code [index:8]}: hides, from restore, the entries from that index written before it. */
    static final byte TRUNCATE_FROM = 5;
    // 6, 7, 10 and 11 held snapshot chunks, and their deletion, before snapshots moved to files of their own
    // (SnapshotFiles); no released version wrote them.
    /**
     * {@code [index:8]}: the entries up to that index are no longer needed: never past the newest durable snapshot.
     */
    static final byte COMPACTED = 8;
    /** {@code [count:4][Chronicle index:8]...}: records torn by a crash, which restore skips from then on. */
    static final byte DISCARD = 9;

    static final int HEADER_BYTES = 5;

    private Records() {
    }

    static byte tag(byte[] record) {
        return record[4];
    }

    /** Whether the first {@code length} bytes of {@code record} are a record whose checksum matches. */
    static boolean intact(byte[] record, int length) {
        if (length < HEADER_BYTES) {
            return false;
        }
        CRC32C crc = new CRC32C();
        crc.update(record, 4, length - 4);
        int stored = (record[0] & 0xff) << 24 | (record[1] & 0xff) << 16 | (record[2] & 0xff) << 8 | record[3] & 0xff;
        return (int) crc.getValue() == stored;
    }

    /** The payload of the record in the first {@code length} bytes of {@code record}. */
    static Reader payload(byte[] record, int length) {
        return new Reader(ByteBuffer.wrap(record, HEADER_BYTES, length - HEADER_BYTES));
    }
}
