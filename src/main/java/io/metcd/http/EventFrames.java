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
 * lives until a later event takes its slot, so a table of {@code 2n} slots holds about the last {@code n} revisions,
 * which must cover the spread between the watchers a write wakes: a watcher further behind encodes every event it
 * reads itself. Small events, most of them, get a table that covers 16,384 revisions (8 s at 2,000 writes a second);
 * with 1,024, 1,000 watchers of a follower under PUT at 64 connections drifted further apart than that, each then
 * encoded every event, and their wake-ups kept the carriers from the store's applier for seconds (the Raft thread
 * waited on a full {@code commitC} for 5-7 s). Larger events get a table of 512 revisions, and the largest are not
 * held, so that the tables stay small ({@link #MAX_HELD_TOTAL_BYTES}).
 */
final class EventFrames {
    /** The most a small event's key and value hold (characters and bytes): its frame goes to the small table. */
    static final int SMALL_EVENT_BYTES = 384;
    /** The largest frame the small table holds: a small event's, unless escapes made it longer. */
    static final int MAX_SMALL_FRAME_BYTES = 512;
    /** The largest frame held. Larger ones are encoded for each stream. */
    static final int MAX_HELD_BYTES = 8 << 10;
    /** Slots of each table: powers of two, two a revision, so that a revision's events (an MSET's) do not share one. */
    static final int SMALL_SLOTS = 1 << 15, LARGE_SLOTS = 1 << 10;
    /** The bytes of frames held at most, every slot full: 24 MiB. */
    static final long MAX_HELD_TOTAL_BYTES = (long) SMALL_SLOTS * MAX_SMALL_FRAME_BYTES
            + (long) LARGE_SLOTS * MAX_HELD_BYTES;
    private static final ObjectMapper JSON = new ObjectMapper();

    private record Frame(Event event, byte[] bytes) {
    }

    private final Table small = new Table(SMALL_SLOTS, MAX_SMALL_FRAME_BYTES);
    private final Table large = new Table(LARGE_SLOTS, MAX_HELD_BYTES);

    /** The frame of {@code e}: its bytes are shared, and must not be changed. */
    byte[] frame(Event e) {
        long size = e.key().length() + (e.isDelete() ? 0 : e.value().length);
        return (size <= SMALL_EVENT_BYTES ? small : large).frame(e);
    }

    /** The bytes of the frames held now. */
    long heldBytes() {
        return small.heldBytes() + large.heldBytes();
    }

    /** Frames of up to {@code maxFrameBytes}, one a slot, by revision. */
    private static final class Table {
        private final AtomicReferenceArray<Frame> slots;
        private final int maxFrameBytes;

        Table(int slots, int maxFrameBytes) {
            this.slots = new AtomicReferenceArray<>(slots);
            this.maxFrameBytes = maxFrameBytes;
        }

        byte[] frame(Event e) {
            int slot = (int) (e.revision() * 2 + (e.key().hashCode() & 1)) & (slots.length() - 1);
            Frame held = slots.getAcquire(slot);
            if (held != null && held.event() == e) {
                return held.bytes();
            }
            byte[] bytes = encode(e);
            if (bytes.length <= maxFrameBytes) {
                slots.setRelease(slot, new Frame(e, bytes));
            }
            return bytes;
        }

        long heldBytes() {
            long bytes = 0;
            for (int i = 0; i < slots.length(); i++) {
                Frame f = slots.get(i);
                bytes += f == null ? 0 : f.bytes().length;
            }
            return bytes;
        }
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
