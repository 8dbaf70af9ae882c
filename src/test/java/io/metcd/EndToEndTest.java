package io.metcd;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.Ports;
import io.metcd.testkit.ProcessCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The real launcher and processes, as {@code make cluster} runs them: kill -9, SIGTERM and restarts. */
class EndToEndTest {
    @TempDir
    Path dir;

    @Test
    void killingTheLeaderWithSigkillLosesNoAcknowledgedWriteAndTheRestartedNodeCatchesUp() {
        try (ProcessCluster cluster = new ProcessCluster(dir, 3, "map").start()) {
            int leader = cluster.awaitLeader();
            for (int i = 0; i < 50; i++) {
                assertThat(cluster.client(leader).put("before" + i, "v" + i)).returns(204, KvClient.Response::status);
            }
            cluster.kill(leader);
            int newLeader = cluster.awaitLeader();
            for (int i = 0; i < 50; i++) {
                assertThat(cluster.client(newLeader).put("after" + i, "v" + i)).returns(204, KvClient.Response::status);
            }
            cluster.start(leader);
            KvClient restarted = cluster.client(leader);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                    .until(() -> restarted.get("after49?level=stale").status() == 200);
            for (int i = 0; i < 50; i++) {
                assertThat(restarted.get("before" + i + "?level=stale").body()).isEqualTo("v" + i);
                assertThat(restarted.get("after" + i + "?level=stale").body()).isEqualTo("v" + i);
            }
        }
    }

    @Test
    void stoppingAndStartingTheWholeClusterKeepsEveryAcknowledgedWrite() {
        try (ProcessCluster cluster = new ProcessCluster(dir, 3, "map").start()) {
            int leader = cluster.awaitLeader();
            for (int i = 0; i < 30; i++) {
                assertThat(cluster.client(leader).put("key" + i, "v" + i)).returns(204, KvClient.Response::status);
            }
            for (int id = 1; id <= 3; id++) {
                cluster.terminate(id);
            }
            cluster.start();
            int anyNode = 1 + (cluster.awaitLeader() % 3);
            for (int i = 0; i < 30; i++) {
                assertThat(cluster.client(anyNode).get("key" + i + "?level=consistent").body()).isEqualTo("v" + i);
            }
        }
    }

    @Test
    void aBadFlagExitsNonZeroWithAOneLineReason() throws Exception {
        ProcessCluster cluster = new ProcessCluster(dir, 1, "map");
        Path badId = dir.resolve("bad-id.log");
        Process p = cluster.launch(badId, "--id", "4", "--cluster", "http://127.0.0.1:1");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isNotZero();
        assertThat(Files.readString(badId)).contains("--id 4 is not a position in --cluster", "Usage:");
        Path badUrl = dir.resolve("bad-url.log");
        Process q = cluster.launch(badUrl, "--id", "1", "--cluster", "not a url");
        assertThat(q.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(q.exitValue()).isNotZero();
        assertThat(Files.readString(badUrl)).contains("bad peer URL 'not a url'");
    }

    @Test
    void aTakenClientPortExitsNonZeroWithAOneLineReasonAndNoStackTrace() throws Exception {
        ProcessCluster cluster = new ProcessCluster(dir, 1, "map");
        int port = Ports.free();
        try (ServerSocket taken = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
            Path log = dir.resolve("taken-port.log");
            Process p = cluster.launch(log, "--id", "1", "--cluster", "http://127.0.0.1:" + Ports.free(), "--port",
                    String.valueOf(port), "--data-dir", dir.resolve("taken").toString());
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(1);
            assertThat(Files.readString(log)).contains("metcd: Port already in use", String.valueOf(port))
                    .doesNotContain("\tat ");
        }
    }
}
