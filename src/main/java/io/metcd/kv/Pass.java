package io.metcd.kv;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The changes of the applier's pass that are not visible yet, over the state that is: commands read their keys
 * through it, so that each sees every command before it, and the engine is given them at once when the pass is made
 * visible ({@link #takeChanges}). It also keeps the store's {@link StoreMeta} as the commands move it, and the events
 * of the pass for the {@link ChangeListener}. Only the applier uses it.
 */
final class Pass {
    private final Function<String, Record> visible;
    /** Keys changed and not yet handed to the engine: the new record, {@code null} for a deleted key. */
    private Map<String, Record> changes = new HashMap<>();
    private final List<Event> events = new ArrayList<>();
    private StoreMeta meta;
    private long bytes;

    /** @param visible the record the engine shows for a key, or {@code null} */
    Pass(StoreMeta meta, Function<String, Record> visible) {
        this.meta = meta;
        this.visible = visible;
    }

    StoreMeta meta() {
        return meta;
    }

    /** Starts a batch stamped at {@code stampMillis}: the log's time moves to it, never back. */
    void stamped(long stampMillis) {
        if (stampMillis > meta.time()) {
            meta = new StoreMeta(meta.revision(), stampMillis, meta.keys());
        }
    }

    /** The log's time. */
    long time() {
        return meta.time();
    }

    /** The revision a change made now takes: one past the store's. */
    long nextRevision() {
        return meta.revision() + 1;
    }

    /** A command changed something: it takes {@link #nextRevision()}. */
    void commitRevision() {
        meta = new StoreMeta(meta.revision() + 1, meta.time(), meta.keys());
    }

    Record get(String key) {
        Record changed = changes.get(key);
        return changed != null || changes.containsKey(key) ? changed : visible.apply(key);
    }

    /** Writes {@code record} under {@code key} at {@link #nextRevision()}, whose event it adds. */
    void put(String key, Record before, Record record) {
        if (before == null) {
            meta = new StoreMeta(meta.revision(), meta.time(), meta.keys() + 1);
        }
        changes.put(key, record);
        events.add(new Event(record.modRevision(), key, record.value()));
        bytes += key.length() + record.value().length;
    }

    /** Deletes the existing key {@code key} at {@link #nextRevision()}, whose event it adds. */
    void delete(String key) {
        meta = new StoreMeta(meta.revision(), meta.time(), meta.keys() - 1);
        changes.put(key, null);
        events.add(new Event(nextRevision(), key, null));
        bytes += key.length();
    }

    /** About how many bytes of changes the pass holds back. */
    long bytes() {
        return bytes;
    }

    boolean hasChanges() {
        return !changes.isEmpty();
    }

    /** The changes held back, handed to the engine and forgotten here. */
    Map<String, Record> takeChanges() {
        Map<String, Record> taken = changes;
        changes = new HashMap<>();
        bytes = 0;
        return taken;
    }

    /** The events since the last call, in the order applied. */
    List<Event> takeEvents() {
        List<Event> taken = List.copyOf(events);
        events.clear();
        return taken;
    }

    /** Replaces the state under the pass: a snapshot was installed. Nothing may be held back. */
    void restored(StoreMeta restored) {
        if (!changes.isEmpty()) {
            throw new IllegalStateException("a snapshot installed over changes not yet made visible");
        }
        meta = restored;
        events.clear();
    }
}
