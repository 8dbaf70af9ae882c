package io.metcd;

import io.metcd.kv.Engine;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.testkit.KvClient;
import io.metcd.testkit.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class NodeTest {
    @TempDir
    Path dir;

    @Test
    void aNodeThatCannotServeClientsReleasesItsDataDirectoryAndPeerPort() throws IOException {
        Member local = new Member(1, "http://127.0.0.1:" + Ports.free());
        int clientPort = Ports.free();
        // MapDB locks its file: a leaked engine would make the second start fail.
        Node.Settings settings = new Node.Settings(local, List.of(local), clientPort, dir, 1000, false, Engine.mapdb,
                false, 0);
        try (ServerSocket taken = new ServerSocket(clientPort, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> Node.start(settings, new FailStop(dir, failure -> { }), () -> { }))
                    .hasMessageContaining(String.valueOf(clientPort));
        }

        try (Node node = Node.start(settings, new FailStop(dir, failure -> { }), () -> { })) {
            KvClient client = new KvClient(clientPort);
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                    .until(() -> client.put("after-retry", "v").status() == 204);
            assertThat(client.get("after-retry").body()).isEqualTo("v");
        }
    }

    @Test
    void aNodeThatCannotListenForPeersSaysWhichPortAndReleasesItsDataDirectory() throws IOException {
        int peerPort = Ports.free();
        Member local = new Member(1, "http://127.0.0.1:" + peerPort);
        int clientPort = Ports.free();
        Node.Settings settings = new Node.Settings(local, List.of(local), clientPort, dir, 1000, false, Engine.mapdb,
                false, 0);
        try (ServerSocket taken = new ServerSocket(peerPort, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> Node.start(settings, new FailStop(dir, failure -> { }), () -> { }))
                    .hasMessageContaining("cannot listen for peers on " + local.peerUrl());
        }

        try (Node node = Node.start(settings, new FailStop(dir, failure -> { }), () -> { })) {
            KvClient client = new KvClient(clientPort);
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                    .until(() -> client.put("after-retry", "v").status() == 204);
        }
    }
}
