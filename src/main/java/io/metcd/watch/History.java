package io.metcd.watch;

import io.metcd.kv.Event;

import java.util.ArrayList;
import java.util.List;

/**
 * The events of the latest revisions a node applied, each revision whole, bounded in bytes: what a watcher reads from,
 * however far behind it is, and what a watch resumes from. It holds every revision after {@link #base()} up to
 * {@link #head()}, none missing: the oldest revisions go first when the bytes pass the bound, but the newest revision
 * stays whatever its size, so that a watcher always gets it whole. Not thread-safe: {@link WatchHub}'s lock guards it.
 */
final class History {
    /** What an event costs beyond its key and value: the record, its list slot and the strings' headers, about. */
    static final int EVENT_OVERHEAD_BYTES = 64;

    /** One revision's events, and the bytes of history up to its end (a running total, never reset). */
    record Revision(long revision, List<Event> events, long bytesThrough) {
    }

    private final long maxBytes;
    /** The revisions held are {@code kept[first..]}, oldest first; the slots before {@code first} are cleared. */
    private final ArrayList<Revision> kept = new ArrayList<>();
    private int first;
    private long base;
    /** The running total of bytes as of {@link #base}. */
    private long bytesThroughBase;

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
        return size() == 0 ? base : kept.getLast().revision();
    }

    private int size() {
        return kept.size() - first;
    }

    /** The bytes held (as {@link #bytes} estimates them). */
    long bytesHeld() {
        return size() == 0 ? 0 : kept.getLast().bytesThrough() - bytesThroughBase;
    }

    /** Forgets every revision held: the history now starts after {@code revision}. */
    void reset(long revision) {
        kept.clear();
        first = 0;
        base = revision;
        bytesThroughBase = 0;
    }

    /**
     * Adds events applied after {@link #head()}, in revision order, a revision's events together; those at or below the
     * head are ignored (a listener attached while a pass was being made visible is told it twice). A revision that does
     * not follow the head starts the history over after the one before it: the revisions between were never told, and
     * a watcher must not pass over them unawares.
     */
    void append(List<Event> events) {
        int i = 0;
        while (i < events.size()) {
            long revision = events.get(i).revision();
            int end = i + 1;
            while (end < events.size() && events.get(end).revision() == revision) {
                end++;
            }
            if (revision > head()) {
                if (revision != head() + 1) {
                    reset(revision - 1);
                }
                long bytes = size() == 0 ? bytesThroughBase : kept.getLast().bytesThrough();
                for (Event e : events.subList(i, end)) {
                    bytes += bytes(e);
                }
                kept.add(new Revision(revision, List.copyOf(events.subList(i, end)), bytes));
            }
            i = end;
        }
        trim();
    }

    /** Drops the oldest revisions while the bytes held pass the bound, keeping the newest. */
    private void trim() {
        while (size() > 1 && bytesHeld() > maxBytes) {
            Revision oldest = kept.get(first);
            kept.set(first++, null);
            base = oldest.revision();
            bytesThroughBase = oldest.bytesThrough();
        }
        if (first > 1024 && first > kept.size() / 2) {
            kept.subList(0, first).clear();
            first = 0;
        }
    }

    /**
     * The revision just after {@code after}, which must be at least {@link #base()}; {@code null} if {@code after} is at
     * or past the head.
     */
    Revision after(long after) {
        long index = after - base;
        return index < size() ? kept.get(first + (int) index) : null;
    }

    /** What an event is taken to weigh: its key (two bytes a character, at most), its value and the overhead. */
    static long bytes(Event e) {
        return EVENT_OVERHEAD_BYTES + 2L * e.key().length() + (e.value() == null ? 0 : e.value().length);
    }
}
