package io.metcd.http;

import io.metcd.kv.KVStore;
import io.metcd.testkit.KvClient;
import io.metcd.transport.NetworkFaults;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test-only admin requests of {@code --test-faults}, which the fault-injection suite drives: they set the faults
 * of the node's links (ClusterTest shows a cluster reacting to them) and its request timeout (OverloadTest).
 */
class FaultInjectionApiTest {
    @Test
    void aFaultSetOnALinkIsListedAndHealed() {
        NetworkFaults faults = new NetworkFaults();
        try (ApiUnderTest api = new ApiUnderTest(1, Optional.of(faults))) {
            assertThat(api.client.send("PUT", "-/test/faults/2?loss=1", null).status()).isEqualTo(204);
            assertThat(api.client.send("PUT", "-/test/faults/3?delay-ms=40", null).status()).isEqualTo(204);
            assertThat(faults.links()).containsEntry(2, NetworkFaults.Link.PARTITIONED)
                    .containsEntry(3, new NetworkFaults.Link(0, Duration.ofMillis(40)));
            assertThat(api.client.get("-/test/faults").body()).contains("\"loss\":1.0", "\"delayMs\":40");

            assertThat(api.client.send("DELETE", "-/test/faults", null).status()).isEqualTo(204);
            assertThat(faults.links()).isEmpty();
        }
    }

    @Test
    void aShorterRequestTimeoutIsSetAndRestored() {
        try (ApiUnderTest api = new ApiUnderTest(1, Optional.of(new NetworkFaults()))) {
            assertThat(api.client.send("PUT", "-/test/request-timeout?ms=300", null).status()).isEqualTo(204);
            assertThat(api.store.requestTimeout).isEqualTo(Duration.ofMillis(300));

            assertThat(api.client.send("DELETE", "-/test/request-timeout", null).status()).isEqualTo(204);
            assertThat(api.store.requestTimeout).isEqualTo(KVStore.REQUEST_TIMEOUT);
        }
    }

    @Test
    void aRequestTimeoutThatIsNotPositiveOrLongerThanTheDefaultAnswers400() {
        try (ApiUnderTest api = new ApiUnderTest(1, Optional.of(new NetworkFaults()))) {
            KvClient.Response zero = api.client.send("PUT", "-/test/request-timeout?ms=0", null);
            assertThat(zero.status()).isEqualTo(400);
            assertThat(zero.body()).contains("positive");
            long tooLong = KVStore.REQUEST_TIMEOUT.toMillis() + 1;
            assertThat(api.client.send("PUT", "-/test/request-timeout?ms=" + tooLong, null).status()).isEqualTo(400);
            assertThat(api.client.send("PUT", "-/test/request-timeout", null).status()).isEqualTo(400);
            assertThat(api.client.send("PUT", "-/test/request-timeout?ms=soon", null).status()).isEqualTo(400);
            assertThat(api.store.requestTimeout).isNull();
        }
    }

    @Test
    void badFaultParametersAnswer400WithAReason() {
        try (ApiUnderTest api = new ApiUnderTest(1, Optional.of(new NetworkFaults()))) {
            KvClient.Response tooLossy = api.client.send("PUT", "-/test/faults/2?loss=1.5", null);
            assertThat(tooLossy.status()).isEqualTo(400);
            assertThat(tooLossy.body()).contains("loss rate");
            assertThat(api.client.send("PUT", "-/test/faults/2?delay-ms=soon", null).status()).isEqualTo(400);
            assertThat(api.client.send("PUT", "-/test/faults/0", null).status()).isEqualTo(400);
        }
    }

    @Test
    void withoutTheFlagTheAdminPathsAreNotServedNorTakenForKeys() {
        try (ApiUnderTest api = new ApiUnderTest()) {
            assertThat(api.client.send("PUT", "-/test/faults/2?loss=1", null).status()).isEqualTo(404);
            assertThat(api.client.get("-/test/faults").status()).isEqualTo(404);
            assertThat(api.client.send("PUT", "-/test/request-timeout?ms=300", null).status()).isEqualTo(404);
            assertThat(api.client.get("-%2Ftest/faults?level=stale").status()).isEqualTo(404);
        }
    }
}
