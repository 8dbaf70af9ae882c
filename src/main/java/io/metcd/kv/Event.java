package io.metcd.kv;

/**
 * One key changed by an applied command: the watch's unit. A command that changes several keys (a multi-key delete,
 * an expiry) gives one event per key, all of its revision.
 *
 * @param value the new value, {@code null} for a delete (an expiry included)
 */
public record Event(long revision, String key, byte[] value) {
    public boolean isDelete() {
        return value == null;
    }
}
