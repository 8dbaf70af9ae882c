package io.metcd.watch;

import io.metcd.kv.Event;

import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The events of the latest revisions a node applied, each revision whole, bounded in bytes: what a watcher reads from,
 * however far behind it is, and what a watch resumes from. It holds every revision after {@link #base()} up to
 * {@link #head()}, none missing: the oldest revisions go first when the bytes pass the bound, but the newest revision
 * stays whatever its size, so that a watcher always gets it whole.
 * <p>
 * One writer at a time ({@link #append} and {@link #reset}, each call happening before the next) and any
 * number of readers ({@link #after}, {@link #head}, {@link #base}), which take no lock: the writer never waits for a
 * reader, however many read or however slowly. The revisions sit in a ring indexed by revision number, which a reader
 * checks against the number it asked for: a slot the writer has cleared or reused since tells the reader that the
 * revision is gone, never another revision in its place. The ring does not shrink: its slots, at most twice as many
 * as the revisions the bound lets it hold (64 bytes each at least), weigh at most an eighth of the bound more.
 */
final class History {
    /** What an event costs beyond its key and value: the record, its list slot and the strings' headers, about. */
    static final int EVENT_OVERHEAD_BYTES = 64;
    /** The ring's slots at first, and after a reset; it doubles when the revisions held fill it. */
    private static final int FIRST_SLOTS = 1024;

    /** One revision's events, and the bytes of history up to its end (a running total, never reset). */
    record Revision(long revision, List<Event> events, long bytesThrough) {
    }

    private final long maxBytes;
    /**
     * Revision {@code r} held is at slot {@code r & (length - 1)}; the slots of the revisions not held are
     * {@code null}, or hold a revision of another number. Replaced, never changed again, when it grows or the
     * history starts over: a reader holding the one before finds there at worst revisions that are gone.
     */
    private volatile AtomicReferenceArray<Revision> ring = new AtomicReferenceArray<>(FIRST_SLOTS);
    private volatile long base;
    private volatile long head;
    /** The writer's own: the running total of bytes as of {@link #base}, and as of {@link #head}. */
    private long bytesThroughBase;
    private long bytesThroughHead;

    /** @param maxBytes how many bytes of events (as {@link #bytes} estimates them) the history holds at most */
    History(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    /** The revision the history starts after: it holds every revision from {@code base() + 1} to {@link #head()}. */
    long base() {
        return base;
    }

    /** The last revision held, or {@link #base()} if none is. */
    long head() {
        return head;
    }

    /** Forgets every revision held: the history now starts after {@code revision}. The writer's. */
    void reset(long revision) {
        // A fresh ring first: a reader that sees the new base or head reads it, and finds none of the revisions
        // forgotten, even if the history starts over below them and holds their numbers again.
        ring = new AtomicReferenceArray<>(FIRST_SLOTS);
        base = revision;
        head = revision;
        bytesThroughBase = 0;
        bytesThroughHead = 0;
    }

    /**
     * Adds events applied after {@link #head()}, in revision order, a revision's events together; those at or below the
     * head are ignored (a listener attached while a pass was being made visible is told it twice). A revision that does
     * not follow the head starts the history over after the one before it: the revisions between were never told, and
     * a watcher must not pass over them unawares. The writer's.
     */
    void append(List<Event> events) {
        int i = 0;
        while (i < events.size()) {
            long revision = events.get(i).revision();
            int end = i + 1;
            while (end < events.size() && events.get(end).revision() == revision) {
                end++;
            }
            if (revision > head) {
                if (revision != head + 1) {
                    reset(revision - 1);
                }
                long bytes = bytesThroughHead;
                for (int j = i; j < end; j++) {
                    bytes += bytes(events.get(j));
                }
                // Most revisions change one key: that list straight, not a copy of a view of the pass's list.
                add(new Revision(revision, end - i == 1 ? List.of(events.get(i)) : List.copyOf(events.subList(i, end)),
                        bytes));
            }
            i = end;
        }
        trim();
    }

    /** Puts the revision after the head in its slot, then makes it the head: a reader that sees the head finds it. */
    private void add(Revision r) {
        AtomicReferenceArray<Revision> slots = ring;
        if (r.revision() - base > slots.length()) {
            slots = grown(slots);
            ring = slots;
        }
        slots.set(slot(slots, r.revision()), r);
        bytesThroughHead = r.bytesThrough();
        head = r.revision();
    }

    /** A ring twice the size holding the same revisions: the one given stays as it is for those reading it. */
    private AtomicReferenceArray<Revision> grown(AtomicReferenceArray<Revision> slots) {
        AtomicReferenceArray<Revision> bigger = new AtomicReferenceArray<>(slots.length() * 2);
        for (long r = base + 1; r <= head; r++) {
            bigger.set(slot(bigger, r), slots.get(slot(slots, r)));
        }
        return bigger;
    }

    /**
     * Drops the oldest revisions while the bytes held pass the bound, keeping the newest. The base moves first, then
     * the slots are cleared: a reader that finds a slot cleared sees the base past it.
     */
    private void trim() {
        AtomicReferenceArray<Revision> slots = ring;
        long oldBase = base;
        long newBase = oldBase;
        while (newBase + 1 < head && bytesThroughHead - bytesThroughBase > maxBytes) {
            newBase++;
            bytesThroughBase = slots.get(slot(slots, newBase)).bytesThrough();
        }
        if (newBase != oldBase) {
            base = newBase;
            for (long r = oldBase + 1; r <= newBase; r++) {
                slots.set(slot(slots, r), null);
            }
        }
    }

    /**
     * The revision just after {@code after}; {@code null} if {@code after} is at or past the head (a revision to come
     * may be asked for).
     *
     * @throws Watcher.Behind if the history no longer holds it
     */
    Revision after(long after) throws Watcher.Behind {
        long wanted = after + 1;
        while (true) {
            AtomicReferenceArray<Revision> slots = ring;
            Revision r = slots.get(slot(slots, wanted));
            if (r != null && r.revision() == wanted) {
                return r;
            }
            long oldest = base;
            if (after < oldest) {
                throw new Watcher.Behind(after, oldest + 1);
            } else if (after >= head) {
                return null;
            }
            // The writer replaced the ring between the reads (it grew, or the history is starting over, which takes
            // it three writes): read again, letting it run if it was put aside.
            Thread.yield();
        }
    }

    private static int slot(AtomicReferenceArray<Revision> slots, long revision) {
        return (int) (revision & (slots.length() - 1));
    }

    /** What an event is taken to weigh: its key (two bytes a character, at most), its value and the overhead. */
    static long bytes(Event e) {
        return EVENT_OVERHEAD_BYTES + 2L * e.key().length() + (e.value() == null ? 0 : e.value().length);
    }
}
