package io.metcd.kv;

import io.metcd.model.StateView;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

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
    private final Function<K, byte[]> keyBytes;
    private final Function<V, byte[]> valueBytes;
    private final List<View> open = new CopyOnWriteArrayList<>();

    /**
     * @param live     the map the applier writes, sorted in the snapshot format's order (unsigned bytes of the key)
     * @param keyBytes   a key as the snapshot format writes it
     * @param valueBytes a value as the snapshot format writes it (an {@link Record#encode encoded} record)
     */
    PreImages(ConcurrentNavigableMap<K, V> live, Function<K, byte[]> keyBytes, Function<V, byte[]> valueBytes) {
        this.live = live;
        this.keyBytes = keyBytes;
        this.valueBytes = valueBytes;
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

    private final class View implements StateView {
        private final long index;
        private final StoreMeta meta;
        private final ConcurrentSkipListMap<K, Object> pre = new ConcurrentSkipListMap<>(live.comparator());

        View(long index, StoreMeta meta) {
            this.index = index;
            this.meta = meta;
        }

        @Override
        public long index() {
            return index;
        }

        @Override
        public void writeTo(OutputStream stream) throws IOException {
            SnapshotFormat.Out out = new SnapshotFormat.Out(stream, index, meta);
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
                    out.add(keyBytes.apply(key), valueBytes.apply(value));
                } else if (before != ABSENT) {
                    out.add(keyBytes.apply(key), encoded(before));
                }
                last = key;
            }
            writeDeletedBefore(out, last, null);
            out.finish();
        }

        /** The keys between {@code from} and {@code to} (exclusive, null: unbounded) that the view has and the map lost. */
        private void writeDeletedBefore(SnapshotFormat.Out out, K from, K to) throws IOException {
            Map<K, Object> between = from == null ? (to == null ? pre : pre.headMap(to))
                    : to == null ? pre.tailMap(from, false) : pre.subMap(from, false, to, false);
            for (Map.Entry<K, Object> e : between.entrySet()) {
                if (e.getValue() != ABSENT) {
                    out.add(keyBytes.apply(e.getKey()), encoded(e.getValue()));
                }
            }
        }

        @SuppressWarnings("unchecked")
        private byte[] encoded(Object preImage) {
            return valueBytes.apply((V) preImage);
        }

        @Override
        public void close() {
            open.remove(this);
        }
    }
}
