package io.metcd.http;

import io.metcd.metrics.Metrics;
import io.metcd.testkit.FakeCluster;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.Ports;
import io.metcd.transport.NetworkFaults;
import io.metcd.watch.WatchHub;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.Optional;

/**
 * The HTTP API on a port of its own, in front of a {@link FakeStore}, a {@link FakeCluster} and a {@link WatchHub} the
 * store tells: no node behind it. Registered as a static extension, it serves a test class, forgetting before each test
 * what the one before did to the fakes, and closes after the class.
 */
final class ApiUnderTest implements AutoCloseable, BeforeEachCallback, AfterAllCallback {
    final FakeStore store = new FakeStore();
    final WatchHub watches = new WatchHub(WatchHub.DEFAULT_HISTORY_BYTES);
    final FakeCluster cluster;
    final int port = Ports.free();
    final KvClient client = new KvClient(port);
    private final HttpApi api;

    /** The API of member 1, without fault injection. */
    ApiUnderTest() {
        this(1, Optional.empty());
    }

    /** @param faults what {@code --test-faults} serves, if it is given */
    ApiUnderTest(int memberId, Optional<NetworkFaults> faults) {
        cluster = new FakeCluster(memberId);
        store.listen(watches);
        api = new HttpApi(store, cluster, watches, faults, new Metrics()).start("127.0.0.1", port);
    }

    /** Forgets what earlier tests did to the fakes. */
    void reset() {
        store.reset();
        cluster.reset();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        reset();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    public void close() {
        api.close();
        store.close();
    }
}
