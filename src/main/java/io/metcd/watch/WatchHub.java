package io.metcd.watch;

import io.metcd.kv.ChangeListener;
import io.metcd.kv.Event;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A node's watches: the store tells it each applied pass ({@link ChangeListener}), which it adds to one
 * {@link History} that every watcher reads from at its own position. Nothing is copied per watcher: a watcher that
 * waits is woken only by a pass with an event it matches (1,000 watchers of one prefix cost one test per event), and
 * one that does not match is moved past the pass where it waits. A watcher that falls more than the history behind
 * learns it ({@link Watcher.Behind}) instead of missing revisions; the history, not the watchers, bounds the memory.
 * <p>
 * The store's thread calls {@link #applied} and {@link #restored}: they only append and wake, under a lock that a
 * watcher holds for at most {@link #SCAN_STEP} revisions at a time.
 */
public final class WatchHub implements ChangeListener, Watches {
    /** What the history holds by default: with small values, hundreds of thousands of revisions. */
    public static final long DEFAULT_HISTORY_BYTES = 64L << 20;
    /** How many revisions a watcher scans before letting the store's thread in. */
    static final int SCAN_STEP = 1024;

    private final ReentrantLock lock = new ReentrantLock();
    private final History history;
    /** The watchers waiting for a revision after the head. */
    private final Set<Stream> waiting = new LinkedHashSet<>();

    public WatchHub(long historyBytes) {
        this.history = new History(historyBytes);
    }

    // ----------------------------------------------------------------------------------------- the store

    @Override
    public void applied(List<Event> events) {
        lock.lock();
        try {
            long before = history.head();
            history.append(events);
            if (history.head() != before) {
                wake(events, before);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The events between the last revision told and {@code revision} will never come: the history starts over. */
    @Override
    public void restored(long revision) {
        lock.lock();
        try {
            history.reset(revision);
            // Those that waited before the snapshot's revision missed what it covers; the others wait on.
            for (Stream s : waiting) {
                if (s.position < revision) {
                    s.arrived.signal();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Wakes the waiting watchers that the new events concern, and moves the others past them. A waiting watcher has
     * read everything up to the head before these events, {@code before} (it waits for nothing else), so skipping them
     * loses nothing. Watchers of one filter that wait at that head (all but those waiting for a revision to come) are
     * tested once for all of them.
     */
    private void wake(List<Event> events, long before) {
        long head = history.head();
        Map<Filter, Boolean> matchedAtHead = new HashMap<>();
        for (var it = waiting.iterator(); it.hasNext(); ) {
            Stream s = it.next();
            boolean concerned = s.position < history.base() || (s.position < head && (s.position == before
                    ? matchedAtHead.computeIfAbsent(s.filter, f -> matches(f, events, before))
                    : matches(s.filter, events, s.position)));
            if (concerned) {
                it.remove();
                s.arrived.signal();
            } else {
                s.position = Math.max(s.position, head);
            }
        }
    }

    /** Whether {@code filter} matches an event after {@code position}. */
    private static boolean matches(Filter filter, List<Event> events, long position) {
        for (Event e : events) {
            if (e.revision() > position && filter.matches(e.key())) {
                return true;
            }
        }
        return false;
    }

    // -------------------------------------------------------------------------------------- the clients

    @Override
    public Watcher watch(Filter filter, OptionalLong after) throws Gone {
        lock.lock();
        try {
            long position = after.orElse(history.head());
            if (position < history.base()) {
                throw new Gone(position, history.base() + 1);
            }
            return new Stream(filter, position);
        } finally {
            lock.unlock();
        }
    }

    private final class Stream implements Watcher {
        final Filter filter;
        final Condition arrived = lock.newCondition();
        /** Guarded by the hub's lock, as everything below. */
        long position;
        boolean closed;

        Stream(Filter filter, long position) {
            this.filter = filter;
            this.position = position;
        }

        @Override
        public List<Event> next(Duration wait, long maxBytes) throws InterruptedException, Behind, Closed {
            long nanos = wait.toNanos();
            List<Event> batch = new ArrayList<>();
            lock.lockInterruptibly();
            try {
                while (true) {
                    if (closed) {
                        throw new Closed();
                    } else if (position < history.base()) {
                        throw new Behind(position, history.base() + 1);
                    }
                    boolean more = collect(batch, maxBytes);
                    if (!batch.isEmpty()) {
                        return batch;
                    } else if (more) {
                        // Let the store's thread append before scanning on.
                        lock.unlock();
                        lock.lockInterruptibly();
                    } else if (nanos <= 0) {
                        return batch;
                    } else {
                        waiting.add(this);
                        try {
                            nanos = arrived.awaitNanos(nanos);
                        } finally {
                            waiting.remove(this);
                        }
                    }
                }
            } finally {
                lock.unlock();
            }
        }

        /**
         * Adds the matching events of whole revisions after the position to {@code batch} and moves past them, until
         * the batch holds {@code maxBytes} or {@link #SCAN_STEP} revisions were scanned.
         *
         * @return whether revisions are left to scan
         */
        private boolean collect(List<Event> batch, long maxBytes) {
            long bytes = 0;
            for (int scanned = 0; scanned < SCAN_STEP && bytes < maxBytes; scanned++) {
                History.Revision r = history.after(position);
                if (r == null) {
                    return false;
                }
                for (Event e : r.events()) {
                    if (filter.matches(e.key())) {
                        batch.add(e);
                        bytes += History.bytes(e);
                    }
                }
                position = r.revision();
            }
            return history.after(position) != null;
        }

        @Override
        public long position() {
            lock.lock();
            try {
                return position;
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                closed = true;
                arrived.signal();
            } finally {
                lock.unlock();
            }
        }
    }
}
