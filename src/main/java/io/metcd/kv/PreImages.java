package io.metcd.kv;

import io.metcd.model.StateView;

import java.io.IOException;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Views of a live sorted map at the index they were opened at, for the engines that keep no versions of their own
 * (the in-memory map, MapDB's B-tree): opening one costs nothing, and while it is open the applier records, before it
 * first changes a key, the value the key had (its pre-image, or its absence). A view reads the live map and, for every
 * key with a pre-image, the pre-image instead: the exact state at its index, however far the applier has moved on.
 * <p>
 * Why that holds while the applier writes (the view reads the live map's weakly consistent iterator, which returns, in
 * order, every key present throughout the iteration, and each value as it was at some moment of it): a pre-image is
 * recorded before the change it precedes becomes visible, and the view looks pre-images up only after the live
 * iterator has moved past the keys concerned. So a value read from the live map after it changed has its pre-image
 * recorded by the time it is looked up; and a key the iterator skipped was absent when it passed, so if it existed at
 * the view's index it was deleted since, and its pre-image is there when the view looks between the keys it did return.
 * <p>
 * Memory: one entry per key changed while a view is open. The applier calls {@link #recording} and
 * {@link #beforeChange}; views are read and closed on any thread.
 */
final class PreImages<K, V> {
    private static final Object ABSENT = new Object();

    private final ConcurrentNavigableMap<K, V> live;
    private final EntryWriter<K, V> entries;
    private final List<View> open = new CopyOnWriteArrayList<>();

    /** How a key and its value go into a snapshot ({@link SnapshotFormat.Out}). */
    @FunctionalInterface
    interface EntryWriter<K, V> {
        void add(SnapshotFormat.Out out, K key, V value) throws IOException;
    }

    /**
     * @param live    the map the applier writes, sorted in the snapshot format's order (unsigned bytes of the key)
     * @param entries writes a key and its value as the snapshot format has them (the key's UTF-8, an
     *                {@link Record#encode encoded} record)
     */
    PreImages(ConcurrentNavigableMap<K, V> live, EntryWriter<K, V> entries) {
        this.live = live;
        this.entries = entries;
    }

    /** Whether a view is open: only then does a change need its pre-image (and the applier the old value). */
    boolean recording() {
        return !open.isEmpty();
    }

    /** Records, for every open view that has none yet, that {@code key} held {@code old} ({@code null}: nothing). */
    void beforeChange(K key, V old) {
        for (View view : open) {
            view.pre.putIfAbsent(key, old == null ? ABSENT : old);
        }
    }

    /**
     * A view of the live map as it is now, at {@code index}, with the store's metadata at that index: the applier calls
     * it between two changes.
     */
    StateView open(long index, StoreMeta meta) {
        View view = new View(index, meta);
        open.add(view);
        return view;
    }

    private final class View extends SnapshotFormat.View {
        private final ConcurrentSkipListMap<K, Object> pre = new ConcurrentSkipListMap<>(live.comparator());

        View(long index, StoreMeta meta) {
            super(index, meta);
        }

        @Override
        void writeEntries(SnapshotFormat.Out out) throws IOException {
            Iterator<Map.Entry<K, V>> it = live.entrySet().iterator();
            K last = null;
            while (it.hasNext()) {
                Map.Entry<K, V> e = it.next();
                K key = e.getKey();
                V value = e.getValue();
                writeDeletedBefore(out, last, key);
                Object before = pre.get(key);
                if (before == null) {
                    if (value == null) {
                        throw new IllegalStateException("key " + key + " vanished without a pre-image");
                    }
                    entries.add(out, key, value);
                } else if (before != ABSENT) {
                    addPreImage(out, key, before);
                }
                last = key;
            }
            writeDeletedBefore(out, last, null);
        }

        /**
         * The keys between {@code from} and {@code to} (exclusive, null: unbounded) that the view has and the map lost.
         * Stepped key by key rather than through a sub-map, which would cost a view and an iterator for every key of
         * the map, where there is mostly none between.
         */
        private void writeDeletedBefore(SnapshotFormat.Out out, K from, K to) throws IOException {
            Comparator<? super K> order = pre.comparator();
            for (K k = from == null ? firstPreImage() : pre.higherKey(from);
                 k != null && (to == null || order.compare(k, to) < 0); k = pre.higherKey(k)) {
                Object before = pre.get(k);
                if (before != ABSENT) {
                    addPreImage(out, k, before);
                }
            }
        }

        private K firstPreImage() {
            Map.Entry<K, Object> first = pre.firstEntry();
            return first == null ? null : first.getKey();
        }

        @SuppressWarnings("unchecked")
        private void addPreImage(SnapshotFormat.Out out, K key, Object preImage) throws IOException {
            entries.add(out, key, (V) preImage);
        }

        @Override
        void release() {
            open.remove(this);
        }
    }
}
