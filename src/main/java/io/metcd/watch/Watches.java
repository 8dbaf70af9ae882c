package io.metcd.watch;

import java.util.OptionalLong;

/**
 * Where clients watch the keys of one node: each watcher reads, in revision order, the events of the revisions this
 * node has applied (and never one it has not), from a history of the latest ones.
 */
public interface Watches {
    /**
     * A watcher of the keys {@code filter} selects, told of the revisions after {@code after}, or, if it is empty,
     * after the last one applied. A revision not yet applied may be given: the watcher waits for it.
     *
     * @throws Gone if the history no longer holds the revisions just after {@code after}
     */
    Watcher watch(Filter filter, OptionalLong after) throws Gone;

    /** The revisions a watch asked for are older than the history: {@link #oldest} is the oldest it can serve. */
    final class Gone extends Exception {
        private final long oldest;

        public Gone(long after, long oldest) {
            super("revision " + (after + 1) + " is older than this node's watch history: the oldest it can serve is "
                    + oldest);
            this.oldest = oldest;
        }

        public long oldest() {
            return oldest;
        }
    }
}
