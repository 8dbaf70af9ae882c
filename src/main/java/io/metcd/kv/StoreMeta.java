package io.metcd.kv;

import java.nio.ByteBuffer;

/**
 * What the store keeps beside its keys, changed only by applying commands: so the same on every node at the same
 * index. Disk engines persist it with the applied index; a snapshot carries it as its header.
 *
 * @param revision the store's revision: +1 for every applied command that changed something
 * @param time     the log's time: the latest batch stamp applied, in ms since the epoch (never goes back)
 * @param keys     how many keys the store holds
 */
public record StoreMeta(long revision, long time, long keys) {
    public static final StoreMeta EMPTY = new StoreMeta(0, 0, 0);
    /** Bumped whenever the header's layout (or the record's) changes. */
    private static final byte FORMAT = 1;
    /** The size of an encoded header. */
    static final int BYTES = 1 + 3 * Long.BYTES;

    byte[] encode() {
        return ByteBuffer.allocate(BYTES).put(FORMAT).putLong(revision).putLong(time).putLong(keys).array();
    }

    static StoreMeta decode(byte[] bytes) {
        if (bytes.length != BYTES || bytes[0] != FORMAT) {
            throw new IllegalStateException("not a store header of format " + FORMAT + " (" + bytes.length
                    + " bytes): written by another version of metcd");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes, 1, BYTES - 1);
        return new StoreMeta(in.getLong(), in.getLong(), in.getLong());
    }
}
