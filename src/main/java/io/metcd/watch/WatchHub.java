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
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A node's watches: the store tells it each applied pass ({@link ChangeListener}), which it adds to one
 * {@link History} that every watcher reads from at its own position. Nothing is copied per watcher: a watcher that
 * waits is woken only by a pass with an event it matches (1,000 watchers of one prefix cost one test per event), and
 * one that does not match is moved past the pass where it waits. A watcher that falls more than the history behind
 * learns it ({@link Watcher.Behind}) instead of missing revisions; the history, not the watchers, bounds the memory.
 * <p>
 * The store's thread never waits for a watcher: {@link #applied} and {@link #restored} write the history, which
 * watchers read without a lock, and ask for a wake-up round, which a thread of the hub's own runs under the lock the
 * waiting watchers share. What the store's thread does is the same however many watchers there are.
 */
public final class WatchHub implements ChangeListener, Watches {
    /**
     * What the history holds by default: with small values, about a hundred thousand revisions. It lives as long as
     * it is held, so every byte of it is copied into the old generation and kept there: at 64 MiB it was the largest
     * part of a node's heap after the 100k-key benchmark (195,000 events and their values).
     */
    public static final long DEFAULT_HISTORY_BYTES = 16L << 20;
    /** No waker runs; one is running, and no round was asked for since its round began; one more round is asked. */
    private static final int IDLE = 0, WAKING = 1, AGAIN = 2;
    private static final ThreadFactory WAKERS = Thread.ofVirtual().name("watch-waker").factory();

    private final History history;
    /**
     * Makes the store's calls the history's one writer at a time: the applier's passes, and the {@link #restored}
     * that attaching the hub to a running store makes on another thread. No watcher takes it.
     */
    private final ReentrantLock writing = new ReentrantLock();
    /** Guards {@link #waiting} and the positions of the watchers in it; the store's thread never takes it. */
    private final ReentrantLock lock = new ReentrantLock();
    /** The watchers waiting for a revision after the head. */
    private final Set<Stream> waiting = new LinkedHashSet<>();
    /**
     * How many watchers are about to wait or waiting: each counts itself before it reads the history's head to decide
     * whether to wait, and the store's thread reads it only after writing the head, so a watcher that missed a new head
     * is counted when the store looks (both are volatile). With none, a pass asks for no wake-up round: no thread is
     * started on a PUT's path when nobody watches.
     */
    private final AtomicInteger waiters = new AtomicInteger();
    private final AtomicInteger waker = new AtomicInteger(IDLE);

    public WatchHub(long historyBytes) {
        this.history = new History(historyBytes);
    }

    // ----------------------------------------------------------------------------------------- the store

    @Override
    public void applied(List<Event> events) {
        writing.lock();
        try {
            long before = history.head();
            history.append(events);
            if (history.head() == before) {
                return;
            }
        } finally {
            writing.unlock();
        }
        if (waiters.get() > 0) {
            wakeWatchers();
        }
    }

    /** The events between the last revision told and {@code revision} will never come: the history starts over. */
    @Override
    public void restored(long revision) {
        writing.lock();
        try {
            history.reset(revision);
        } finally {
            writing.unlock();
        }
        // Those that waited before the snapshot's revision missed what it covers; the others wait on.
        wakeWatchers();
    }

    /**
     * Asks for a round of {@link #wake}, which starts a waker if none runs: rounds come one at a time, and one begins
     * after every ask. Never blocks: the store's thread asks.
     */
    private void wakeWatchers() {
        if (waker.getAndSet(AGAIN) == IDLE) {
            WAKERS.newThread(this::runWaker).start();
        }
    }

    private void runWaker() {
        try {
            do {
                // An ask from now on comes after this round read the history: it needs a round of its own.
                waker.set(WAKING);
                wake();
            } while (!waker.compareAndSet(WAKING, IDLE));
        } catch (RuntimeException | Error e) {
            // Let the next ask start a waker rather than leave every watcher waiting for ever.
            waker.set(IDLE);
            throw e;
        }
    }

    /**
     * Wakes the waiting watchers that the history's new revisions concern (or that it left behind), and moves the
     * others past them. A waiting watcher has read everything up to its position (it waits for nothing else), so
     * moving it to the head past revisions it does not match loses nothing. Watchers of one filter at one position (as
     * a round leaves all those of a filter it did not wake, typically) are tested once for all of them.
     */
    private void wake() {
        lock.lock();
        try {
            long base = history.base();
            long head = history.head();
            Map<Scan, Boolean> matched = new HashMap<>();
            for (var it = waiting.iterator(); it.hasNext(); ) {
                Stream s = it.next();
                boolean concerned = s.position < base || (s.position < head
                        && matched.computeIfAbsent(new Scan(s.filter, s.position), scan -> matches(scan, head)));
                if (concerned) {
                    it.remove();
                    s.woken = true;
                    LockSupport.unpark(s.thread);
                } else {
                    s.position = Math.max(s.position, head);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** A filter, and the revision after which it is tested. */
    private record Scan(Filter filter, long after) {
    }

    /** Whether {@code scan}'s filter matches an event after its revision up to {@code head}, or the history left it. */
    private boolean matches(Scan scan, long head) {
        try {
            for (long r = scan.after(); r < head; r++) {
                History.Revision revision = history.after(r);
                if (revision == null) {
                    return false;
                }
                for (Event e : revision.events()) {
                    if (scan.filter().matches(e.key())) {
                        return true;
                    }
                }
            }
            return false;
        } catch (Watcher.Behind e) {
            return true;
        }
    }

    // -------------------------------------------------------------------------------------- the clients

    @Override
    public Watcher watch(Filter filter, OptionalLong after) throws Gone {
        // The head, written before the store answers a pass's writes: a watch opened once a write is answered starts
        // after it.
        long position = after.orElse(history.head());
        long base = history.base();
        if (after.isPresent() && position < base) {
            throw new Gone(position, base + 1);
        }
        return new Stream(filter, position);
    }

    private final class Stream implements Watcher {
        final Filter filter;
        /** Moved by this watcher's reader, and by the waker while it waits (under the hub's lock). */
        volatile long position;
        volatile boolean closed;
        /**
         * The thread that waits (set before it reads {@link #closed}), and whether the waker took it out of
         * {@link #waiting} (set under the hub's lock).
         */
        volatile Thread thread;
        volatile boolean woken;

        Stream(Filter filter, long position) {
            this.filter = filter;
            this.position = position;
        }

        @Override
        public List<Event> next(Duration wait, long maxBytes) throws InterruptedException, Behind, Closed {
            long nanos = wait.toNanos();
            List<Event> batch = new ArrayList<>();
            while (true) {
                if (closed) {
                    throw new Closed();
                }
                collect(batch, maxBytes);
                if (!batch.isEmpty() || nanos <= 0) {
                    return batch;
                }
                nanos = await(nanos);
            }
        }

        /**
         * Adds the matching events of whole revisions after the position to {@code batch} and moves past them, until
         * the batch holds {@code maxBytes} or no revision is left.
         *
         * @throws Behind only if the batch is empty: what it holds is the watcher's to send before it learns that
         */
        private void collect(List<Event> batch, long maxBytes) throws Behind {
            long at = position;
            long bytes = 0;
            try {
                while (bytes < maxBytes) {
                    History.Revision r = history.after(at);
                    if (r == null) {
                        return;
                    }
                    for (Event e : r.events()) {
                        if (filter.matches(e.key())) {
                            batch.add(e);
                            bytes += History.bytes(e);
                        }
                    }
                    at = r.revision();
                }
            } catch (Behind e) {
                if (batch.isEmpty()) {
                    throw e;
                }
            } finally {
                position = at;
            }
        }

        /**
         * Waits up to {@code nanos} for the waker, unless there is something to read (or the watcher was closed): the
         * history moved on since it was read, or left this watcher behind.
         * <p>
         * The waker unparks a watcher it takes out of {@link #waiting}, and the watcher goes on without taking the
         * hub's lock again. Woken through a condition of that lock, the watchers of a round queued for it (590 of
         * 1,000 in a thread dump of a follower under PUT at 64 connections), each unlock handing it to the next and
         * putting that one on the unlocking carrier's own queue, which a carrier runs dry before it takes work from
         * outside such as the store's applier (woken by the Raft thread). There the applier waited seconds, and the
         * Raft thread, on a full {@code commitC}, as long: 2.5-5.3 s with the HTTP streams sharing their events'
         * frames, 0.5-0.8 s once the watchers no longer queued.
         *
         * @return the nanoseconds left to wait
         */
        private long await(long nanos) throws InterruptedException {
            // Before reading closed (below, under the lock): a close() that comes after it unparks this thread.
            thread = Thread.currentThread();
            waiters.incrementAndGet();
            try {
                lock.lockInterruptibly();
                try {
                    if (closed || position < history.head() || position < history.base()) {
                        return nanos;
                    }
                    woken = false;
                    waiting.add(this);
                } finally {
                    lock.unlock();
                }
                long deadline = System.nanoTime() + nanos;
                long left = nanos;
                while (!woken && !closed && left > 0) {
                    LockSupport.parkNanos(this, left);
                    if (Thread.interrupted()) {
                        leave();
                        throw new InterruptedException();
                    }
                    left = deadline - System.nanoTime();
                }
                if (!woken) {
                    leave();
                }
                return left;
            } finally {
                waiters.decrementAndGet();
            }
        }

        /** Out of {@link #waiting}, if the waker did not take it out: from then on only this watcher moves it. */
        private void leave() {
            lock.lock();
            try {
                waiting.remove(this);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public long position() {
            return position;
        }

        @Override
        public void close() {
            closed = true;
            Thread waiter = thread;
            if (waiter != null) {
                LockSupport.unpark(waiter);
            }
        }
    }
}
