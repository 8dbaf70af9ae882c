package io.metcd.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metcd.kv.Event;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The Server-Sent Events frame of a watch event ({@code id:}, {@code event:}, {@code data:} and the blank line), which
 * is the same for every stream that sends it: the streams of a node share the frames of the latest events, so that an
 * event a thousand watchers are told of is encoded once, not a thousand times (it was most of a node's work and
 * garbage with 1,000 watchers of the keys PUTs wrote). Any number of threads may ask at once, without a lock.
 * <p>
 * The frames sit in a fixed table, one per slot, found by their event's revision, and compared by the event's
 * identity: every watcher reads the same event objects from the node's history, and an event that is not the one in
 * its slot (one of another history, after a snapshot started it over with the same revisions) is encoded anew. A frame
 * lives until a later event takes its slot: about the last {@code SLOTS / 2} revisions are held, which covers the
 * spread between the watchers a write wakes. The frames of large values are not held, so that the table stays small.
 */
final class EventFrames {
    /** A power of two: two slots a revision, so that a revision's events (an MSET's) do not all share one. */
    static final int SLOTS = 2048;
    /** The largest frame held: with every slot full of them, 16 MiB. Larger ones are encoded for each stream. */
    static final int MAX_HELD_BYTES = 8 << 10;
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Frame(Event event, byte[] bytes) {
    }

    private final AtomicReferenceArray<Frame> slots = new AtomicReferenceArray<>(SLOTS);

    /** The frame of {@code e}: its bytes are shared, and must not be changed. */
    byte[] frame(Event e) {
        int slot = (int) (e.revision() * 2 + (e.key().hashCode() & 1)) & (SLOTS - 1);
        Frame held = slots.getAcquire(slot);
        if (held != null && held.event() == e) {
            return held.bytes();
        }
        byte[] bytes = encode(e);
        if (bytes.length <= MAX_HELD_BYTES) {
            slots.setRelease(slot, new Frame(e, bytes));
        }
        return bytes;
    }

    static byte[] encode(Event e) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("key", e.key());
        if (!e.isDelete()) {
            KeyRequests.putValue(data, e.value());
        }
        data.put("revision", e.revision());
        String frame = "id: " + e.revision() + '\n' + "event: " + (e.isDelete() ? "delete" : "put") + '\n' + "data: "
                + json(data) + "\n\n";
        return frame.getBytes(StandardCharsets.UTF_8);
    }

    private static String json(Map<String, Object> data) {
        try {
            return JSON.writeValueAsString(data);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
