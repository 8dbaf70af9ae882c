package io.metcd.watch;

import io.metcd.kv.Event;

import java.time.Duration;
import java.util.List;

/**
 * One client's watch: a position in the node's history, and nothing else of its own, so that an idle watcher costs
 * only a parked thread and a slow one no memory but the batch it is sending. Used by one thread at a time;
 * {@link #close} may come from any.
 */
public interface Watcher extends AutoCloseable {
    /**
     * The next events that match, of whole revisions in order, none missing and none twice, up to about
     * {@code maxBytes} (always at least one revision); waits up to {@code wait} for them, and returns an empty list if
     * none came.
     *
     * @throws Behind  if the history dropped revisions this watcher had not read: it can never have them here
     * @throws Closed  if the watcher was closed
     */
    List<Event> next(Duration wait, long maxBytes) throws InterruptedException, Behind, Closed;

    /** The last revision this watcher has read (sent, or passed over as not matching): where to resume after. */
    long position();

    /** Ends the watch: a call of {@link #next} waiting or to come throws {@link Closed}. */
    @Override
    void close();

    /** The watcher fell more than the history behind: it read up to {@link #position}, the history starts later. */
    final class Behind extends Exception {
        private final long position;
        private final long oldest;

        public Behind(long position, long oldest) {
            super("too far behind: read up to revision " + position + ", but this node's history now starts at "
                    + oldest);
            this.position = position;
            this.oldest = oldest;
        }

        public long position() {
            return position;
        }

        public long oldest() {
            return oldest;
        }
    }

    final class Closed extends Exception {
        public Closed() {
            super("watch closed");
        }
    }
}
