package io.metcd.http;

import io.metcd.testkit.KvClient;
import io.metcd.transport.NetworkFaults;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The test-only admin requests of {@code --test-faults}, which the fault-injection suite drives: they set the faults
 * of the node's links (ClusterTest shows a cluster reacting to them).
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
            assertThat(api.client.get("-%2Ftest/faults?level=stale").status()).isEqualTo(404);
        }
    }
}
