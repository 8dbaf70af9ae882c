package io.metcd.http;

import io.metcd.model.Command;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.WatchStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code GET /-/watch} as the contract spells it, read by a Server-Sent Events client, with a real store behind the
 * API that commits every write at once and leads (so that its expiry loop runs).
 */
class WatchApiTest {
    @RegisterExtension
    static final ApiUnderTest api = new ApiUnderTest();
    static final KvClient client = api.client;
    private final List<WatchStream> streams = new ArrayList<>();

    @AfterEach
    void closeStreams() {
        streams.forEach(WatchStream::close);
    }

    private WatchStream watch(String query, String... headers) {
        WatchStream stream = WatchStream.open(api.port, query, headers);
        streams.add(stream);
        return stream;
    }

    /** A stream that has started: what is written after this is its to see. */
    private WatchStream watching(String query, String... headers) {
        WatchStream stream = watch(query, headers);
        assertThat(stream.status).as(stream.refusal).isEqualTo(200);
        await().until(() -> stream.startedAfter() >= 0);
        return stream;
    }

    private static List<String> described(WatchStream stream) {
        return stream.changes().stream().map(WatchStream.Change::toString).toList();
    }

    @Test
    void aWatchOfAPrefixStreamsEachChangeUnderItAsAnEventWithItsRevision() {
        WatchStream stream = watching("prefix=config/");
        assertThat(stream.contentType).startsWith("text/event-stream");
        client.put("config/a", "v1");
        client.put("other", "x");
        client.delete("config/a");
        await().until(() -> stream.changes().size() == 2);
        assertThat(described(stream)).containsExactly("1 put config/a=v1", "3 delete config/a");
        assertThat(stream.changes()).allSatisfy(c -> assertThat(c.id()).isEqualTo(c.revision()));
    }

    @Test
    void aWatchOfAKeySeesThatKeyOnly() {
        WatchStream stream = watching("key=config");
        client.put("config/a", "1");
        client.put("config", "2");
        await().until(() -> stream.changes().size() == 1);
        assertThat(described(stream)).containsExactly("2 put config=2");
    }

    @Test
    void aValueThatIsNotUtf8ComesInBase64() throws InterruptedException {
        WatchStream stream = watching("prefix=");
        byte[] binary = {(byte) 0xff, 0, (byte) 0xc3};
        api.store.write(Command.put("bin", binary));
        await().until(() -> !stream.changes().isEmpty());
        WatchStream.Change change = stream.changes().getFirst();
        assertThat(change.value()).isNull();
        assertThat(Base64.getDecoder().decode(change.valueBase64())).isEqualTo(binary);
    }

    @Test
    void aWriteOfSeveralKeysIsOneRevisionWhoseEventsComeTogether() throws InterruptedException {
        WatchStream stream = watching("prefix=");
        api.store.write(new Command.PutAll(List.of(new Command.KeyValue("a", new byte[] {'1'}),
                new Command.KeyValue("b", new byte[] {'2'}))));
        await().until(() -> stream.changes().size() == 2);
        assertThat(described(stream)).containsExactly("1 put a=1", "1 put b=2");
    }

    @Test
    void eventsOfMoreBytesThanOneWriteComeWholeAndInOrder() {
        // Read at once from the history: small events around ones larger than a write, and more of them than one holds.
        List<String> written = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String value = (i % 10 == 3 ? "large" : "v").repeat(i % 10 == 3 ? WatchRequests.MAX_WRITE_BYTES : 100) + i;
            client.put("k" + i, value);
            written.add((i + 1) + " put k" + i + "=" + value);
        }
        WatchStream stream = watch("prefix=&from=1");
        await().until(() -> stream.changes().size() == written.size());
        assertThat(described(stream)).containsExactlyElementsOf(written);
    }

    @Test
    void fromStartsAtThatRevisionAndLastEventIdResumesAfterItsOwn() {
        for (int i = 1; i <= 3; i++) {
            client.put("k", "v" + i);
        }
        WatchStream from = watch("prefix=&from=2");
        WatchStream resumed = watch("prefix=", "Last-Event-ID", "2");
        // An EventSource reconnects to the URL it was opened with, adding Last-Event-ID: the header wins.
        WatchStream reconnected = watch("prefix=&from=1", "Last-Event-ID", "2");
        await().until(() -> from.changes().size() == 2 && resumed.changes().size() == 1
                && reconnected.changes().size() == 1);
        assertThat(described(from)).containsExactly("2 put k=v2", "3 put k=v3");
        assertThat(described(resumed)).containsExactly("3 put k=v3");
        assertThat(described(reconnected)).containsExactly("3 put k=v3");
    }

    @Test
    void withoutFromAWatchStartsAtTheNextRevision() {
        client.put("k", "before");
        WatchStream stream = watching("prefix=");
        assertThat(stream.startedAfter()).isEqualTo(1);
        client.put("k", "after");
        await().until(() -> !stream.changes().isEmpty());
        assertThat(described(stream)).containsExactly("2 put k=after");
    }

    @Test
    void aRevisionOlderThanTheHistoryIsGoneWithTheOldestItCanServe() {
        client.put("k", "v");
        // What the store tells the hub when it installs a snapshot at revision 10.
        api.watches.restored(10);
        WatchStream gone = watch("prefix=&from=5");
        assertThat(gone.status).isEqualTo(410);
        assertThat(gone.refusal).isEqualTo(
                "revision 5 is older than this node's watch history: the oldest it can serve is 11\n");
        assertThat(watch("prefix=&from=11").status).isEqualTo(200);
    }

    @Test
    void aStreamWhoseRevisionsTheNodeNoLongerHasEndsWithWhereItStopped() {
        WatchStream stream = watching("prefix=");
        client.put("k", "v");
        await().until(() -> stream.changes().size() == 1);
        // What the store tells the hub when it installs a snapshot at revision 10: revisions 2 to 10 never come.
        api.watches.restored(10);
        await().until(stream::ended);
        assertThat(stream.comments()).last().asString()
                .isEqualTo("too far behind: read up to revision 1, but this node's history now starts at 11");
        assertThat(stream.lastEventId()).isEqualTo(1);
        assertThat(watch("prefix=", "Last-Event-ID", "1").status).isEqualTo(410);
    }

    @Test
    void anExpiryComesAsADeleteEvent() {
        WatchStream stream = watching("key=session");
        client.send("PUT", "session?ttl=1", "alive");
        await().atMost(Duration.ofSeconds(10)).until(() -> stream.changes().size() == 2);
        assertThat(described(stream)).containsExactly("1 put session=alive", "2 delete session");
    }

    @Test
    void anIdleStreamGetsACommentEveryTenSeconds() {
        WatchStream stream = watching("prefix=");
        int comments = stream.comments().size();
        await().atLeast(WatchRequests.KEEP_ALIVE.minusSeconds(1)).atMost(WatchRequests.KEEP_ALIVE.plusSeconds(5))
                .until(() -> stream.comments().size() > comments);
        assertThat(stream.ended()).isFalse();
    }

    @Test
    void malformedWatchesAreRefusedWithOneLine() {
        assertBadRequest(watch("prefix=a&key=a"), "prefix and key together");
        assertBadRequest(watch("from=1"), "prefix= or key= is required");
        assertBadRequest(watch("key="), "empty key");
        assertBadRequest(watch("prefix=&from=abc"), "from must be a revision");
        assertBadRequest(watch("prefix=&from=0"), "from must be a revision");
        assertBadRequest(watch("prefix=&from=-3"), "from must be a revision");
        assertBadRequest(watch("prefix=", "Last-Event-ID", "x"), "Last-Event-ID must be a revision");
        assertBadRequest(watch("prefix=" + "k".repeat(HttpApi.MAX_KEY_BYTES + 1)), "prefix longer than a key");
    }

    private static void assertBadRequest(WatchStream stream, String reason) {
        assertThat(stream.status).isEqualTo(400);
        assertThat(stream.refusal).startsWith(reason).endsWith("\n").hasLineCount(1);
    }

    @Test
    void closingTheApiEndsItsStreamsWithWhereToResume() {
        try (ApiUnderTest own = new ApiUnderTest()) {
            own.client.put("k", "v");
            own.client.put("k", "w");
            WatchStream stream = WatchStream.open(own.port, "prefix=other");
            streams.add(stream);
            await().until(() -> stream.startedAfter() >= 0);
            own.close();
            await().until(stream::ended);
            assertThat(stream.comments()).last().asString().startsWith("the node is stopping");
            assertThat(stream.lastEventId()).isEqualTo(2);
        }
    }
}
