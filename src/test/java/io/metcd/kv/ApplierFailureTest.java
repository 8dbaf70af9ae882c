package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Result;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Unavailable;
import io.metcd.testkit.FailingStore;
import io.metcd.testkit.StubConsensus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An applier that fails, whatever it throws, stops the node the way a failed WAL does: otherwise the Raft thread
 * waits for it for ever (on a full {@code commitC}) while the node keeps its vote and serves reads of a state that no
 * longer moves. What waits for the store fails rather than waits.
 */
class ApplierFailureTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private final Channel<Commit> commitC = new Channel<>(16);
    private FailStop failStop;
    private FailingStore store;

    @AfterEach
    void stopApplier() {
        store.close();
    }

    @Test
    void anErrorWhileApplyingStopsTheNode() throws InterruptedException {
        InternalError fullDisk = new InternalError("a fault occurred in an unsafe memory access operation (injected)");
        startApplier(fullDisk);
        commitC.sender().put(aWrite(1));
        await().atMost(PATIENCE).until(() -> failStop.cause().isPresent());
        assertThat(failStop.cause()).containsSame(fullDisk);
    }

    @Test
    void aSnapshotThatCannotBeInstalledStopsTheNode() throws InterruptedException {
        UncheckedIOException vanished = new UncheckedIOException(new NoSuchFileException("000012.log (injected)"));
        startApplier(vanished);
        commitC.sender().put(new Commit.Restore(5, emptySnapshot(5)));
        await().atMost(PATIENCE).until(() -> failStop.cause().isPresent());
        assertThat(failStop.cause()).containsSame(vanished);
    }

    /** The WAL closes as consensus stops, maybe while the applier loads a snapshot's chunks from it. */
    @Test
    void aSnapshotWhoseChunksWentWithTheWalAsTheNodeStopsEndsTheApplierWithoutStoppingTheNode()
            throws InterruptedException {
        startApplier(new Operation.ChunkSource.Closed("the Raft log in wal is closed (injected)", null));
        commitC.sender().put(new Commit.Restore(5, emptySnapshot(5)));
        await().atMost(PATIENCE).until(() -> !store.applying());
        assertThat(failStop.cause()).isEmpty();
    }

    /** A snapshot's view is opened by the applier, at the snapshot's marker: an engine that cannot open one fails. */
    @Test
    void aViewTheEngineCannotOpenStopsTheNode() throws InterruptedException {
        InternalError fullDisk = new InternalError("a fault occurred in an unsafe memory access operation (injected)");
        startApplier(fullDisk);
        commitC.sender().put(new Commit.Snapshot(0, view -> { }));
        await().atMost(PATIENCE).until(() -> failStop.cause().isPresent());
        assertThat(failStop.cause()).containsSame(fullDisk);
    }

    /** Its view could not be of the state at that index: the snapshot would be wrong, and served to followers. */
    @Test
    void aSnapshotMarkerForAnIndexTheStoreHasLeftBehindStopsTheNode() throws InterruptedException {
        failStop = new FailStop(dir, cause -> { });
        store = new FailingStore(commitC.receiver(), 9, new IllegalStateException("not reached"), failStop);
        store.start(new StubConsensus());
        commitC.sender().put(new Commit.Snapshot(7, view -> { }));
        await().atMost(PATIENCE).until(() -> failStop.cause().isPresent());
        assertThat(failStop.cause().orElseThrow()).hasMessageContaining("asked of a store at index 9");
    }

    /** Reads and the writes proposed here wait so for an index. */
    @Test
    void whatWaitsForAnIndexFailsOnceTheApplierHasFailed() throws InterruptedException {
        startApplier(new OutOfMemoryError("Java heap space (injected)"));
        CompletableFuture<Long> waiting = store.whenApplied(1);
        commitC.sender().put(aWrite(1));
        assertThat(waiting).failsWithin(PATIENCE).withThrowableOfType(ExecutionException.class);
        assertThat(store.whenApplied(2)).isCompletedExceptionally();
    }

    @Test
    void aWriteProposedHereFailsOnceTheApplierHasFailed() throws InterruptedException {
        startApplier(new OutOfMemoryError("Java heap space (injected)"));
        CompletableFuture<Result> written = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                written.complete(store.write(Command.put("k", new byte[] {1})));
            } catch (InterruptedException | RuntimeException e) {
                written.completeExceptionally(e);
            }
        });
        store.proposeC.take();
        commitC.sender().put(aWrite(1));
        assertThat(written).failsWithin(PATIENCE).withThrowableOfType(ExecutionException.class)
                .havingCause().isInstanceOf(Unavailable.class).withMessageContaining("stopped applying");
    }

    private void startApplier(Throwable failure) {
        failStop = new FailStop(dir, cause -> { });
        store = new FailingStore(commitC.receiver(), 0, failure, failStop);
        store.start(new StubConsensus());
    }

    private static List<byte[]> emptySnapshot(long index) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            new SnapshotFormat.Out(bytes, index, StoreMeta.EMPTY).finish();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return List.of(bytes.toByteArray());
    }

    private static Commit.Apply aWrite(long index) {
        return new Commit.Apply(index, 0, List.of(new Proposal(2, index, Command.put("k", new byte[] {1}))));
    }
}
