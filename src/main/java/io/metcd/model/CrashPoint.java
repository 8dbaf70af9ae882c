package io.metcd.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of taking, sending, installing and compacting a snapshot at which the kill -9 tests stop a node, as etcd's
 * failpoints do: a node started with {@code --test-faults} arms one ({@code PUT /-/test/crash/{point}}), and the
 * process halts the first time it reaches it, without shutdown hooks or flushing anything, as kill -9 would. Nothing is
 * armed otherwise, and {@link #reached()} is a read of one field.
 */
public enum CrashPoint {
    /** The Raft thread published the marker of a snapshot; the store may not have reached it yet. */
    SNAPSHOT_MARKER_PUBLISHED,
    /** The store opened the view the snapshot is written from. */
    SNAPSHOT_VIEW_OPEN,
    /** Half the snapshot's chunks are in its file. */
    SNAPSHOT_HALF_WRITTEN,
    /** The snapshot's file holds all its bytes, not yet its trailer (which makes it durable). */
    SNAPSHOT_WRITTEN,
    /** The snapshot is durable; older ones are not deleted yet. */
    SNAPSHOT_DURABLE,
    /** The leader handed the second chunk of a snapshot to a follower's connection. */
    SNAPSHOT_CHUNK_SENT,
    /** A follower persisted half the chunks of the leader's snapshot. */
    SNAPSHOT_HALF_RECEIVED,
    /** A follower made the leader's snapshot durable; its store has not loaded it yet. */
    SNAPSHOT_RECEIVED,
    /** A follower's store loaded half of a snapshot's chunks. */
    SNAPSHOT_HALF_INSTALLED,
    /** A follower's store switched to the snapshot's state. */
    SNAPSHOT_INSTALLED,
    /** The WAL recorded a compaction and is about to delete the files it covers. */
    WAL_COMPACTING;

    private static final Logger LOG = LoggerFactory.getLogger(CrashPoint.class);
    /** kill -9's exit status, as a shell reports it. */
    private static final int KILLED_STATUS = 137;
    private static volatile CrashPoint armed;

    /** Halts the process the first time it reaches {@code point}; {@code null} disarms. */
    public static void arm(CrashPoint point) {
        armed = point;
    }

    /** Halts the process if this point is armed. */
    public void reached() {
        if (armed == this) {
            LOG.warn("crash point {} reached: halting as kill -9 would", this);
            Runtime.getRuntime().halt(KILLED_STATUS);
        }
    }
}
