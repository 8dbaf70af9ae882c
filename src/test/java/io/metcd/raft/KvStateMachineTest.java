package io.metcd.raft;

import io.metcd.kv.MapKVStore;
import io.metcd.metrics.Metrics;
import io.metcd.model.Command;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.wal.SnapshotFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/** The Raft thread's side of the store: what it publishes on commitC, and what taking a snapshot costs it. */
class KvStateMachineTest {
    private final Channel<Commit> commitC = new Channel<>(100);
    private final AtomicInteger snapshotsAsked = new AtomicInteger();
    private final Metrics metrics = new Metrics();
    private final FailStop noFailure = new FailStop(Path.of("."), failure -> {
        throw new AssertionError("the node was stopped", failure);
    });
    /** Its applier does not run: nothing the Raft thread does may wait for it. */
    private final MapKVStore store = new MapKVStore(1, true, new Channel<Operation.Proposal>(1).sender(),
            commitC.receiver(), noFailure);
    @TempDir
    Path dir;
    private SnapshotFiles snapshots;
    private KvStateMachine machine;

    @BeforeEach
    void openSnapshots() {
        snapshots = SnapshotFiles.open(dir.resolve("snap"), SnapshotFiles.CHUNK_BYTES, noFailure);
        machine = new KvStateMachine(commitC.sender(), store, snapshots, () -> 1, metrics, 100,
                snapshotsAsked::incrementAndGet, noFailure);
    }

    @AfterEach
    void closeSnapshots() {
        snapshots.close();
    }

    @Test
    void aSnapshotIsAskedForEverySnapshotCountClientWritesHoweverTheyAreGrouped() {
        machine.runOperation(1, batchOf(60));
        assertThat(snapshotsAsked).hasValue(0);

        machine.runOperation(2, batchOf(60));
        assertThat(snapshotsAsked).hasValue(1);

        machine.runOperation(3, batchOf(60));
        machine.runOperation(4, new Operation.NewTerm(2));
        assertThat(snapshotsAsked).hasValue(1);
        machine.runOperation(5, batchOf(40));
        assertThat(snapshotsAsked).hasValue(2);
    }

    @Test
    void committedBatchesReachTheStoreInOrder() {
        machine.runOperation(1, batchOf(2));
        machine.runOperation(2, new Operation.NewTerm(2));

        List<Commit> commits = published();
        assertThat(commits).extracting(Commit::index).containsExactly(1L, 2L);
        assertThat(commits.get(0)).isInstanceOf(Commit.Apply.class);
        assertThat(commits.get(1)).isEqualTo(new Commit.TermStarted(2, 2));
    }

    /** The store's applier is not running here: a Raft thread that waited for it would wait for ever. */
    @Test
    void takingASnapshotDoesNotWaitForTheApplierToReachIt() {
        machine.runOperation(1, batchOf(2));

        assertTimeoutPreemptively(Duration.ofSeconds(2), () -> machine.takeSnapshot(1, chunk -> { }));
    }

    @Test
    void aSnapshotIsAMarkerRightAfterItsEntryForTheStoreToOpenItsViewAt() {
        machine.runOperation(1, batchOf(2));
        machine.takeSnapshot(1, chunk -> { });

        List<Commit> commits = published();
        assertThat(commits).hasSize(2);
        assertThat(commits.get(0)).isInstanceOf(Commit.Apply.class);
        assertThat(commits.get(1)).isInstanceOfSatisfying(Commit.Snapshot.class,
                marker -> assertThat(marker.index()).isEqualTo(1));
    }

    /** The chunks' number is fixed before the state is written: enough for the most the writes so far can make. */
    @Test
    void aSnapshotHasEnoughChunksForTheLargestStateItsWritesCanMake() {
        byte[] large = new byte[700 << 10];
        machine.runOperation(1, new Operation.Batch(0, IntStream.range(0, 3)
                .mapToObj(i -> new Operation.Proposal(1, i, Command.put("big" + i, large))).toList()));
        List<Object> chunks = new ArrayList<>();

        machine.takeSnapshot(1, chunks::add);

        assertThat(chunks).hasSize(3).allSatisfy(chunk -> assertThat(chunk).isInstanceOf(Operation.SnapshotPart.class));
        assertThat((long) chunks.size() * SnapshotFiles.CHUNK_BYTES)
                .isGreaterThanOrEqualTo(3L * large.length + store.emptySnapshotBytes());
    }

    @Test
    void anEmptyStoresSnapshotIsOneChunk() {
        machine.runOperation(1, new Operation.NewTerm(1));
        List<Object> chunks = new ArrayList<>();

        machine.takeSnapshot(1, chunks::add);

        assertThat(chunks).hasSize(1);
    }

    /** A store applying more slowly than entries commit holds the Raft thread back: each such wait is timed. */
    @Test
    void aCommitThatWaitsForRoomOnCommitCIsTimedAndOnesThatFoundRoomAreNot() throws InterruptedException {
        for (int index = 1; index <= 100; index++) {
            machine.runOperation(index, batchOf(1));
        }
        assertThat(scraped("metcd_commit_wait_duration_seconds_count")).isZero();

        Thread raftThread = Thread.ofPlatform().start(() -> machine.runOperation(101, batchOf(1)));
        await().atMost(Duration.ofSeconds(5)).until(() -> raftThread.getState() == Thread.State.WAITING);
        commitC.receiver().take();
        raftThread.join(Duration.ofSeconds(5));

        assertThat(raftThread.isAlive()).isFalse();
        assertThat(scraped("metcd_commit_wait_duration_seconds_count")).isEqualTo(1);
        assertThat(scraped("metcd_commit_wait_duration_seconds_sum")).isPositive();
    }

    /** The value of the sample named {@code name} in the metrics' text. */
    private double scraped(String name) {
        return new String(metrics.scrape(), StandardCharsets.UTF_8).lines().filter(l -> l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(name.length() + 1))).findFirst()
                .orElseThrow(() -> new AssertionError(name + " is not in the metrics"));
    }

    private List<Commit> published() {
        List<Commit> commits = new ArrayList<>();
        commitC.receiver().drainTo(commits, 100);
        return commits;
    }

    private static Operation.Batch batchOf(int writes) {
        return new Operation.Batch(0, IntStream.range(0, writes)
                .mapToObj(i -> new Operation.Proposal(1, i, Command.put("key-" + i, new byte[] {1}))).toList());
    }
}
