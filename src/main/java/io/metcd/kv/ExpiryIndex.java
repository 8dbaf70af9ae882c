package io.metcd.kv;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The keys that expire, by deadline, on every node: the leader reads what is due from it, and any node can count
 * them. Kept by the applier as it makes changes visible, rebuilt whole when a snapshot is installed or a disk engine
 * opens. It decides nothing: the store's records do, in the log's time.
 */
final class ExpiryIndex {
    private record Deadline(long expiresAt, String key) {
    }

    private static final Comparator<Deadline> ORDER = Comparator.comparingLong(Deadline::expiresAt)
            .thenComparing(Deadline::key);

    private final TreeSet<Deadline> byDeadline = new TreeSet<>(ORDER);
    private final Map<String, Long> byKey = new HashMap<>();

    /** Records that {@code key} expires at {@code expiresAt}, or, for 0, that it does not expire (or is gone). */
    synchronized void set(String key, long expiresAt) {
        Long old = expiresAt == 0 ? byKey.remove(key) : byKey.put(key, expiresAt);
        if (old != null) {
            byDeadline.remove(new Deadline(old, key));
        }
        if (expiresAt != 0) {
            byDeadline.add(new Deadline(expiresAt, key));
        }
    }

    synchronized void clear() {
        byDeadline.clear();
        byKey.clear();
    }

    /** How many keys expire. */
    synchronized int size() {
        return byKey.size();
    }

    /** Up to {@code limit} keys due at {@code nowMillis}, earliest first. */
    synchronized List<String> due(long nowMillis, int limit) {
        List<String> due = new ArrayList<>();
        Iterator<Deadline> it = byDeadline.iterator();
        while (due.size() < limit && it.hasNext()) {
            Deadline d = it.next();
            if (d.expiresAt() > nowMillis) {
                break;
            }
            due.add(d.key());
        }
        return due;
    }
}
