package io.metcd.wal;

import io.metcd.testkit.KvClient;
import io.metcd.testkit.ProcessCluster;
import io.metcd.testkit.Tmpfs;
import io.metcd.testkit.WriteLoad;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * A node whose disk fills up stops (exit status 70) rather than vote or acknowledge what its WAL could not write, and
 * says why; the other two go on; once space is freed and it is restarted with the same flags, it rejoins with every
 * acknowledged write.
 * <p>
 * The disk is real: the node's {@code --data-dir} is a small tmpfs, filled but for {@link #LEFT_BYTES}, which writes
 * through that node then fill (as the leader or as a follower, as the election went: the WAL fails the same way).
 * Chronicle Queue writes through memory-mapped files, so the write that finds no page left fails as a SIGBUS, which
 * the JVM turns into an InternalError in the WAL's copy ("a fault occurred in an unsafe memory access operation"),
 * not an IOException saying the disk is full: the WAL's fail-stop catches it, and the node logs the free space.
 */
class DiskFullTest {
    private static final int FULL = 3;
    private static final long DISK_BYTES = 16 << 20;
    private static final long LEFT_BYTES = 512 << 10;
    private static final int VALUE_BYTES = 8 << 10;
    private static final int WRITERS = 4;
    private static final int WRITES_WHILE_DOWN = 50;
    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final Pattern FREE = Pattern.compile("failed in \\w+ \\((\\d+) bytes free on the disk of (\\S+)\\)");

    @TempDir
    static Path dir;
    static ProcessCluster cluster;
    static Tmpfs disk;
    static int exitStatus;
    static final Map<String, String> acknowledgedByTheFullNode = new HashMap<>();
    static final Map<String, String> acknowledgedWhileItWasDown = new HashMap<>();

    /** Why no tmpfs could be mounted, if none could: every test is then skipped, saying so. */
    static TestAbortedException noTmpfs;

    @BeforeAll
    static void fillOneNodesDiskThenFreeSpaceAndRestartIt() {
        cluster = new ProcessCluster(dir, 3, "map");
        try {
            disk = Tmpfs.mount(cluster.dataDir(FULL), DISK_BYTES);
        } catch (TestAbortedException e) {
            noTmpfs = e;
            return;
        }
        cluster.start();
        disk.fillLeaving(LEFT_BYTES);
        List<WriteLoad> loads = new ArrayList<>();
        try {
            for (int w = 0; w < WRITERS; w++) {
                loads.add(new WriteLoad("to-full-" + w + "-", (int) (DISK_BYTES / VALUE_BYTES), VALUE_BYTES,
                        () -> FULL, cluster::client));
            }
            exitStatus = cluster.awaitExit(FULL, PATIENCE);
        } finally {
            loads.forEach(WriteLoad::close);
        }
        loads.forEach(load -> acknowledgedByTheFullNode.putAll(load.acknowledged()));

        int survivor = FULL % 3 + 1;
        WriteLoad whileDown = new WriteLoad("while-down-", 10 * WRITES_WHILE_DOWN, VALUE_BYTES, () -> survivor,
                cluster::client);
        try {
            whileDown.awaitAcknowledged(WRITES_WHILE_DOWN);
        } finally {
            whileDown.close();
        }
        acknowledgedWhileItWasDown.putAll(whileDown.acknowledged());

        disk.freeSpace();
        cluster.start(FULL);
    }

    @AfterAll
    static void stopClusterAndUnmount() {
        try {
            cluster.close();
        } finally {
            if (disk != null) {
                disk.close();
            }
        }
    }

    @BeforeEach
    void needsATmpfs() {
        if (noTmpfs != null) {
            abort(noTmpfs.getMessage());
        }
    }

    @Test
    void theNodeWhoseDiskFilledUpStoppedWithStatus70() {
        assertThat(exitStatus).isEqualTo(70);
    }

    @Test
    void itLoggedThatItsWalFailedAndThatItsDiskHadNoRoomForAWrite() throws IOException {
        String log = Files.readString(cluster.log(FULL));
        assertThat(log).contains("Raft log in " + cluster.dataDir(FULL).resolve("wal") + " failed in ")
                .contains("java.lang.InternalError");
        Matcher free = FREE.matcher(log);
        assertThat(free.find()).as("the WAL failure's line in the log").isTrue();
        assertThat(Long.parseLong(free.group(1))).isLessThan(VALUE_BYTES);
        assertThat(free.group(2)).isEqualTo(cluster.dataDir(FULL).toString());
    }

    @Test
    void itAcknowledgedWritesUntilThen() {
        assertThat(acknowledgedByTheFullNode).isNotEmpty();
    }

    @Test
    void theOtherTwoKeptCommittingWritesWhileItWasDown() {
        assertThat(acknowledgedWhileItWasDown).hasSizeGreaterThanOrEqualTo(WRITES_WHILE_DOWN);
    }

    @Test
    void restartedOnceSpaceWasFreedItRejoinsAndAcknowledgesWritesAgain() {
        KvClient client = cluster.client(FULL);
        await().atMost(PATIENCE).ignoreExceptions().until(() -> client.get("-/health").status() == 200);
        assertThat(client.put("after-restart", "fine").status()).isEqualTo(204);
        for (int id = 1; id <= cluster.size(); id++) {
            assertThat(cluster.client(id).get("after-restart?level=consistent").body()).isEqualTo("fine");
        }
    }

    /** Those the full node acknowledged included: it acknowledged nothing it could not persist, or the others lacked. */
    @Test
    void everyAcknowledgedWriteIsReadFromEveryNodeOnceItIsBack() {
        Map<String, String> acknowledged = new HashMap<>(acknowledgedByTheFullNode);
        acknowledged.putAll(acknowledgedWhileItWasDown);
        await().atMost(PATIENCE).ignoreExceptions().until(() -> cluster.client(FULL).get("-/health").status() == 200);
        for (int id = 1; id <= cluster.size(); id++) {
            KvClient client = cluster.client(id);
            assertThat(acknowledged).allSatisfy((key, value) ->
                    assertThat(client.get(key + "?level=consistent").body()).as(key).isEqualTo(value));
        }
    }
}
