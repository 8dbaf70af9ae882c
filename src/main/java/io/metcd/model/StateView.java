package io.metcd.model;

import java.io.IOException;
import java.io.OutputStream;

/**
 * The state of a store at exactly one log index, readable on any thread while the store goes on applying later
 * entries: what a snapshot is written from. A store opens one when it reaches a {@link Commit.Snapshot} marker, in
 * constant time (a LevelDB snapshot, or the pre-images of the keys written since); whoever it is handed to closes it.
 */
public interface StateView extends AutoCloseable {
    /** The log index whose state this is. */
    long index();

    /**
     * Writes the state in the snapshot format (which the store defines, and reads back when it installs a snapshot).
     * Called at most once; the same state gives the same bytes on every node and engine.
     */
    void writeTo(OutputStream out) throws IOException;

    /** Lets go of what holds the state (a LevelDB snapshot, pre-images); idempotent, from any thread. */
    @Override
    void close();
}
