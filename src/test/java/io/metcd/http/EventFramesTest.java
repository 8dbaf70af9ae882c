package io.metcd.http;

import io.metcd.kv.Event;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The frames the watch streams of a node share: encoded once an event, never another event's. */
class EventFramesTest {
    private final EventFrames frames = new EventFrames();

    private static Event put(long revision, String key, String value) {
        return new Event(revision, key, value.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(byte[] frame) {
        return new String(frame, StandardCharsets.UTF_8);
    }

    @Test
    void aFrameIsTheEventAsServerSentEventLines() {
        assertThat(text(frames.frame(put(7, "config/a", "v\"1"))))
                .isEqualTo("id: 7\nevent: put\ndata: {\"key\":\"config/a\",\"value\":\"v\\\"1\",\"revision\":7}\n\n");
        assertThat(text(frames.frame(new Event(8, "config/a", null))))
                .isEqualTo("id: 8\nevent: delete\ndata: {\"key\":\"config/a\",\"revision\":8}\n\n");
    }

    @Test
    void theStreamsThatSendAnEventShareOneEncodingOfIt() {
        Event e = put(7, "config/a", "v1");
        assertThat(frames.frame(e)).isSameAs(frames.frame(e));
    }

    @Test
    void anotherEventOfTheSameRevisionAndKeyIsEncodedForItself() {
        // After a snapshot the history starts over, and may hold other events under revisions it held before.
        assertThat(text(frames.frame(put(7, "config/a", "before")))).contains("\"value\":\"before\"");
        assertThat(text(frames.frame(put(7, "config/a", "after")))).contains("\"value\":\"after\"");
    }

    @Test
    void theEventsOfOneRevisionEachGetTheirOwnFrame() {
        Event[] mset = new Event[8];
        for (int i = 0; i < mset.length; i++) {
            mset[i] = put(9, "k" + i, "v" + i);
        }
        for (int round = 0; round < 2; round++) {
            for (Event e : mset) {
                assertThat(text(frames.frame(e))).contains("\"key\":\"" + e.key() + "\",\"value\":\"v");
            }
        }
    }

    @Test
    void aFrameTooLargeToHoldIsStillTheWholeEvent() {
        char[] big = new char[EventFrames.MAX_HELD_BYTES + 1];
        Arrays.fill(big, 'x');
        Event e = put(7, "config/a", new String(big));
        assertThat(text(frames.frame(e))).contains(new String(big)).endsWith(",\"revision\":7}\n\n");
        assertThat(frames.frame(e)).isNotSameAs(frames.frame(e));
    }

    @Test
    void streamsSixteenThousandRevisionsApartShareTheirFrames() {
        // 1,000 watchers of a busy follower spread over seconds of writes: at 2,000 a second, 16,000 revisions are 8 s.
        Event oldest = put(1, "bench-1", "v");
        byte[] first = frames.frame(oldest);
        for (long revision = 2; revision <= 16_000; revision++) {
            frames.frame(put(revision, "bench-" + revision, "v"));
        }
        assertThat(frames.frame(oldest)).isSameAs(first);
    }

    @Test
    void theFramesHeldWeighNoMoreThanTheirBoundHoweverLargeTheValues() {
        String small = "x".repeat(EventFrames.SMALL_EVENT_BYTES - 10);
        String large = "x".repeat(EventFrames.MAX_HELD_BYTES - 200);
        Event last = null;
        for (long revision = 1; revision <= 2L * EventFrames.SMALL_SLOTS; revision++) {
            // Two events a revision, of each size, so that every slot of both tables is taken.
            frames.frame(put(revision, "a", small));
            frames.frame(put(revision, "b", small));
            frames.frame(put(revision, "c", large));
            last = put(revision, "d", large);
            frames.frame(last);
        }
        assertThat(frames.heldBytes()).isLessThanOrEqualTo(EventFrames.MAX_HELD_TOTAL_BYTES)
                .isGreaterThan(EventFrames.MAX_HELD_TOTAL_BYTES * 3 / 4);
        assertThat(frames.frame(last)).as("the latest frame, held").isSameAs(frames.frame(last));
    }
}
