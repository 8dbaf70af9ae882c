package io.metcd.testkit;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The hosts in network namespaces that the chaos suite runs nodes on, and their clean-up. */
class NetworkNamespacesTest {
    private static final String OWN = "metcdnet-" + ProcessHandle.current().pid() + "-";

    @BeforeEach
    void needsNamespaces() {
        Optional<String> unavailable = NetworkNamespaces.unavailable();
        assumeTrue(unavailable.isEmpty(), () -> "skipped: " + unavailable.orElseThrow());
    }

    @Test
    void aHostReachesTheClientMachineOnPrivateAddressesWhilePluggedIn() throws Exception {
        try (NetworkNamespaces net = NetworkNamespaces.create(2);
                ServerSocket client = new ServerSocket(0, 8, InetAddress.getByName(net.clientAddress()))) {
            assertThat(net.address(1)).startsWith("10.213.");
            assertThat(net.clientAddress()).startsWith("10.213.");
            assertThat(connects(net, 1, client.getLocalPort())).isTrue();
            net.unplug(1);
            assertThat(connects(net, 1, client.getLocalPort())).isFalse();
            assertThat(connects(net, 2, client.getLocalPort())).isTrue();
            net.heal();
            // Its neighbour entry for the client failed while it was out: resolving it again takes a moment.
            await().atMost(Duration.ofSeconds(10)).until(() -> connects(net, 1, client.getLocalPort()));
        }
    }

    @Test
    void closeStopsWhatRunsOnTheHostsAndRemovesTheirNamespacesAndTheClientLink() throws Exception {
        NetworkNamespaces net = NetworkNamespaces.create(2);
        Process sleeper = new ProcessBuilder(command(net.launcher(2), "sleep", "60")).start();

        net.close();

        assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(NetworkNamespaces.namespaces()).noneMatch(ns -> ns.startsWith(OWN));
        assertThat(Commands.run("ip", "link", "show", net.clientLink())).isNotNull();
    }

    @Test
    void aNewNetworkRemovesWhatARunWhoseJvmIsGoneLeftBehind() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor(10, TimeUnit.SECONDS);
        String leftover = "metcdnet-" + gone.pid() + "-hub";
        String leftoverLink = "mn" + gone.pid() + "c";
        Commands.require("ip", "netns", "add", leftover);
        Commands.require("ip", "link", "add", leftoverLink, "type", "veth", "peer", "name", "mn" + gone.pid() + "p");

        try (NetworkNamespaces net = NetworkNamespaces.create(1)) {
            assertThat(NetworkNamespaces.namespaces()).doesNotContain(leftover).anyMatch(ns -> ns.startsWith(OWN));
            assertThat(Commands.run("ip", "link", "show", leftoverLink)).isNotNull();
        } finally {
            Commands.run("ip", "netns", "del", leftover);
            Commands.run("ip", "link", "del", leftoverLink);
        }
    }

    /** Whether {@code host} can open a connection to the client machine's {@code port} within a second. */
    private static boolean connects(NetworkNamespaces net, int host, int port) {
        String dial = "exec 3<>/dev/tcp/" + net.clientAddress() + "/" + port;
        return Commands.run(command(net.launcher(host), "timeout", "1", "bash", "-c", dial)) == null;
    }

    private static List<String> command(List<String> launcher, String... program) {
        List<String> command = new ArrayList<>(launcher);
        command.addAll(List.of(program));
        return command;
    }
}
