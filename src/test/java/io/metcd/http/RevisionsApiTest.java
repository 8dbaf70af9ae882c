package io.metcd.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.metcd.kv.ReadLevel;
import io.metcd.model.Command;
import io.metcd.testkit.KvClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Revisions, conditional writes, time to live and ranges over HTTP, as the contract spells them, with a real store
 * behind the API that commits every write at once and leads (so its expiry loop runs, on this machine's clock).
 */
class RevisionsApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @RegisterExtension
    static final ApiUnderTest api = new ApiUnderTest();
    static final KvClient client = api.client;

    private static KvClient.Response put(String key, String value, String... headers) {
        return client.send("PUT", key, value, headers);
    }

    // ------------------------------------------------------------------------------------------ revisions

    @Test
    void writesAnswerTheirRevisionAndAReadTheKeysModRevisionAndTheStores() {
        assertThat(put("a", "1")).returns(204, KvClient.Response::status).returns("\"1\"", r -> r.header("ETag"))
                .returns("1", r -> r.header("X-Revision"));
        assertThat(put("b", "2").header("ETag")).isEqualTo("\"2\"");
        KvClient.Response got = client.get("a");
        assertThat(got).returns("\"1\"", r -> r.header("ETag")).returns("2", r -> r.header("X-Revision"))
                .returns(null, r -> r.header("X-TTL"));
        assertThat(client.delete("a")).returns(204, KvClient.Response::status).returns("3", r -> r.header("X-Revision"));
    }

    // ----------------------------------------------------------------------------------- conditional writes

    @Test
    void ifMatchWritesOnlyWhileTheKeyIsAtThatRevision() {
        put("config", "v1");
        assertThat(put("config", "v2", "If-Match", "\"1\"")).returns(204, KvClient.Response::status)
                .returns("\"2\"", r -> r.header("ETag"));
        KvClient.Response stale = put("config", "v3", "If-Match", "\"1\"");
        assertThat(stale.status()).isEqualTo(412);
        assertThat(stale.body()).startsWith("precondition failed");
        assertThat(client.get("config").body()).isEqualTo("v2");
        assertThat(put("absent", "v", "If-Match", "\"2\"").status()).isEqualTo(412);
    }

    @Test
    void ifNoneMatchStarCreatesTheKeyOnceAndRefusesTheRest() {
        assertThat(put("lock", "me", "If-None-Match", "*").status()).isEqualTo(204);
        assertThat(put("lock", "you", "If-None-Match", "*").status()).isEqualTo(412);
        assertThat(client.get("lock").body()).isEqualTo("me");
    }

    @Test
    void ifMatchStarWritesOnlyAnExistingKey() {
        assertThat(put("k", "v", "If-Match", "*").status()).isEqualTo(412);
        put("k", "v");
        assertThat(put("k", "w", "If-Match", "*").status()).isEqualTo(204);
    }

    @Test
    void aDeleteWithIfMatchDeletesOnlyAtThatRevision() {
        put("k", "v");
        put("k", "w");
        assertThat(client.send("DELETE", "k", null, "If-Match", "\"1\"").status()).isEqualTo(412);
        assertThat(client.get("k").status()).isEqualTo(200);
        assertThat(client.send("DELETE", "k", null, "If-Match", "\"2\"").status()).isEqualTo(204);
        assertThat(client.get("k").status()).isEqualTo(404);
    }

    @Test
    void malformedConditionsAnswer400AndChangeNothing() {
        for (String[] headers : List.of(new String[] {"If-Match", "17"}, new String[] {"If-Match", "\"abc\""},
                new String[] {"If-Match", "\"0\""}, new String[] {"If-Match", "\"1\", \"2\""},
                new String[] {"If-Match", "\"99999999999999999999\""}, new String[] {"If-None-Match", "\"3\""},
                new String[] {"If-Match", "*", "If-None-Match", "*"})) {
            KvClient.Response answer = put("k", "v", headers);
            assertThat(answer.status()).as(String.join(" ", headers)).isEqualTo(400);
            assertThat(answer.body()).contains("If-");
        }
        assertThat(api.store.keys()).isEmpty();
    }

    // ------------------------------------------------------------------------------------------- ttl

    @Test
    void aKeyWithATtlIsDeletedOnceItsDeadlinePassesAndNotBefore() {
        long start = System.nanoTime();
        assertThat(put("session?ttl=1", "alive").status()).isEqualTo(204);
        KvClient.Response got = client.get("session");
        assertThat(got.header("X-TTL")).isEqualTo("1");
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> client.get("session").status() == 404);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1))
                .isLessThan(Duration.ofMillis(2500));
    }

    @Test
    void aLaterWriteWithoutTtlMakesTheKeyPermanent() {
        put("k?ttl=100", "v");
        assertThat(client.get("k").header("X-TTL")).isEqualTo("100");
        put("k", "w");
        assertThat(client.get("k").header("X-TTL")).isNull();
    }

    @Test
    void aTtlOutsideOneSecondToAYearAnswers400() {
        for (String ttl : List.of("0", "-1", "31536001", "abc", "1.5", "", "99999999999")) {
            KvClient.Response answer = put("k?ttl=" + ttl, "v");
            assertThat(answer.status()).as("ttl=" + ttl).isEqualTo(400);
            assertThat(answer.body()).contains("ttl");
        }
        assertThat(put("k?ttl=31536000", "v").status()).isEqualTo(204);
        assertThat(client.delete("k?ttl=5").status()).isEqualTo(400);
    }

    // ------------------------------------------------------------------------------------------ range

    @Test
    void aRangeListsKeysUnderAPrefixWithTheirRevisionsAPageAtATime() throws IOException {
        for (String key : List.of("session/b", "session/a", "other", "session/c")) {
            put(key, "v-" + key);
        }
        JsonNode page = range("-/keys?prefix=session/&limit=2");
        assertThat(page.get("revision").asLong()).isEqualTo(4);
        assertThat(keys(page)).containsExactly("session/a", "session/b");
        assertThat(page.get("more").asBoolean()).isTrue();
        JsonNode first = page.get("keys").get(0);
        assertThat(first.get("modRevision").asLong()).isEqualTo(2);
        assertThat(first.get("createRevision").asLong()).isEqualTo(2);
        assertThat(first.get("version").asLong()).isEqualTo(1);
        assertThat(first.has("value")).isFalse();

        JsonNode rest = range("-/keys?prefix=session/&after=session/b&values=true");
        assertThat(keys(rest)).containsExactly("session/c");
        assertThat(rest.get("keys").get(0).get("value").asText()).isEqualTo("v-session/c");
        assertThat(rest.get("more").asBoolean()).isFalse();
        assertThat(keys(range("-/keys"))).containsExactly("other", "session/a", "session/b", "session/c");
    }

    @Test
    void aRangeGivesAValueThatIsNotUtf8InBase64() throws Exception {
        api.store.write(Command.put("bin", new byte[] {(byte) 0xff, 0}));
        JsonNode key = range("-/keys?values=true").get("keys").get(0);
        assertThat(key.has("value")).isFalse();
        assertThat(key.get("valueBase64").asText()).isEqualTo("/wA=");
    }

    @Test
    void aRangeReadsAtTheLevelAsked() {
        client.get("-/keys?level=stale");
        client.get("-/keys?level=consistent");
        client.get("-/keys");
        assertThat(api.store.readLevels).containsExactly(ReadLevel.STALE, ReadLevel.CONSISTENT, ReadLevel.DEFAULT);
    }

    @Test
    void aRangeWithBadParametersAnswers400() {
        for (String query : List.of("limit=0", "limit=10001", "limit=x", "limit=", "values=yes", "level=eventual",
                "prefix=" + "p".repeat(4097))) {
            KvClient.Response answer = client.get("-/keys?" + query);
            assertThat(answer.status()).as(query).isEqualTo(400);
        }
    }

    private static JsonNode range(String path) throws IOException {
        KvClient.Response answer = client.get(path);
        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    private static List<String> keys(JsonNode page) {
        List<String> keys = new ArrayList<>();
        page.get("keys").forEach(k -> keys.add(k.get("key").asText()));
        return keys;
    }
}
