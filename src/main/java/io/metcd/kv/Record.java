package io.metcd.kv;

import java.io.DataOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * What the store keeps under a key: its value and the metadata commands and readers need. Engines store it encoded
 * ({@link #encode}), and snapshots carry it so: {@code [createRevision][modRevision][version][expiresAt]} as four
 * big-endian longs, then the value's bytes to the end.
 *
 * @param createRevision the revision that created the key (since it was last absent)
 * @param modRevision    the revision of its last change
 * @param version        how many changes it has had since it was created, 1 for a new key
 * @param expiresAt      when it expires, in ms since the epoch by the leaders' clocks (the log's time), or 0 for never
 */
public record Record(byte[] value, long createRevision, long modRevision, long version, long expiresAt) {
    /** The bytes an encoded record takes besides its value. */
    static final int HEADER_BYTES = 4 * Long.BYTES;
    private static final int EXPIRES_AT_OFFSET = 3 * Long.BYTES;

    public boolean expires() {
        return expiresAt != 0;
    }

    /** Milliseconds left before it expires at {@code nowMillis}, never negative; only for a key that {@link #expires}. */
    public long millisLeft(long nowMillis) {
        return Math.max(0, expiresAt - nowMillis);
    }

    byte[] encode() {
        return ByteBuffer.allocate(HEADER_BYTES + value.length).putLong(createRevision).putLong(modRevision)
                .putLong(version).putLong(expiresAt).put(value).array();
    }

    /** Writes what {@link #encode} returns, its length first as a big-endian int, without building it. */
    void writeEncoded(DataOutput out) throws IOException {
        out.writeInt(HEADER_BYTES + value.length);
        out.writeLong(createRevision);
        out.writeLong(modRevision);
        out.writeLong(version);
        out.writeLong(expiresAt);
        out.write(value);
    }

    static Record decode(byte[] bytes) {
        if (bytes.length < HEADER_BYTES) {
            throw new IllegalStateException("a stored record of " + bytes.length + " bytes: too short to be one");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        return new Record(Arrays.copyOfRange(bytes, HEADER_BYTES, bytes.length), in.getLong(), in.getLong(),
                in.getLong(), in.getLong());
    }

    /** The {@link #expiresAt} of an encoded record, without decoding the rest. */
    static long expiresAt(byte[] encoded) {
        return ByteBuffer.wrap(encoded).getLong(EXPIRES_AT_OFFSET);
    }
}
