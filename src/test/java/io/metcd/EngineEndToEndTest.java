package io.metcd;

import io.metcd.kv.Engine;
import io.metcd.testkit.ProcessCluster;
import io.metcd.testkit.WriteLoad;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Real processes on each disk engine, killed with SIGKILL while they apply writes. */
class EngineEndToEndTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = Engine.class, names = {"mapdb", "leveldb"})
    void killingTheLeaderDuringAWriteLoadLosesNoAcknowledgedWriteAndItsEngineRecoversByItself(Engine engine) {
        try (ProcessCluster cluster = new ProcessCluster(dir, 3, engine.name(), "--snapshot-count", "50").start()) {
            int leader = cluster.awaitLeader();
            int via = leader % 3 + 1;
            try (WriteLoad load = new WriteLoad("key", 2000, () -> via, cluster::client)) {
                load.awaitAcknowledged(150);
                cluster.kill(leader);
                load.awaitAcknowledged(300);
                cluster.start(leader);
                load.awaitAcknowledged(400);
                load.close();
                for (int id = 1; id <= 3; id++) {
                    int node = id;
                    await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                            .untilAsserted(() -> assertThat(load.lost(cluster::client, node)).isEmpty());
                }
            }
        }
    }
}
