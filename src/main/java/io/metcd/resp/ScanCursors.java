package io.metcd.resp;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * SCAN's cursors. Redis clients take a cursor for a number (redis-cli parses it as one), but where a scan stands in
 * this store is a key: the last one returned, the next page starting after it in byte order, so that a key present
 * for the whole scan is returned exactly once however the keys change meanwhile. Each cursor handed out is a number
 * standing for that key, kept by the node for the {@link #KEPT} most recent cursors. Cursors are drawn at random,
 * so that an older one, or one from another node or from before a restart, is unknown and refused
 * ({@code ERR invalid cursor}) rather than taken for another scan's or silently restarted.
 */
final class ScanCursors {
    /** Cursors remembered: scans in progress at once, each holding at most one key of up to 4 KiB. */
    static final int KEPT = 4096;

    private final Map<Long, String> afterKeys = new LinkedHashMap<>(KEPT * 2, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, String> eldest) {
            return size() > KEPT;
        }
    };

    /** A new cursor for a scan whose next page starts after {@code lastKey}. */
    synchronized long issue(String lastKey) {
        long cursor;
        do {
            cursor = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE);
        } while (afterKeys.containsKey(cursor));
        afterKeys.put(cursor, lastKey);
        return cursor;
    }

    /** The key after which the scan of {@code cursor} goes on, or {@code null} if this node does not know it. */
    synchronized String after(long cursor) {
        return afterKeys.get(cursor);
    }
}
