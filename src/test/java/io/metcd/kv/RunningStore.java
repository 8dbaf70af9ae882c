package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Command;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Result;
import io.metcd.model.StateView;
import io.metcd.testkit.StubConsensus;
import io.metcd.wal.SnapshotFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A store of one engine on a data directory, with its applier running, fed through its channels as a node feeds it. */
final class RunningStore implements AutoCloseable {
    /** The Raft loop's ends of the store's channels: what it proposes, and what to apply. */
    private final Channel<Proposal> proposals = new Channel<>(4);
    private final Channel<Commit> commits = new Channel<>(64);
    final Channel.Receiver<Proposal> proposeC = proposals.receiver();
    final Channel.Sender<Commit> commitC = commits.sender();
    final KVStore store;
    /** Whether the store leads, for its expiry loop. */
    final StubConsensus consensus = new StubConsensus();

    /** @param fresh as for a node without Raft state: discard what the directory holds */
    RunningStore(Engine engine, Path dataDir, boolean fresh, int localId) {
        // A failed applier also fails what waits for it, with the cause: commit() reports it.
        store = engine.open(dataDir, fresh, localId, proposals.sender(), commits.receiver(),
                new FailStop(dataDir, failure -> { }));
        store.start(consensus);
    }

    /**
     * Hands the commit to the applier and waits until it is applied. One at or below the applied index returns
     * at once: that it was skipped shows only once a later commit is applied.
     */
    void commit(Commit c) throws InterruptedException {
        commitC.put(c);
        assertThat(store.whenApplied(c.index())).succeedsWithin(Duration.ofSeconds(10));
    }

    /** A view of the state at the applied index, opened as a node's applier opens one, at a snapshot marker. */
    StateView view() throws InterruptedException {
        CompletableFuture<StateView> opened = new CompletableFuture<>();
        commitC.put(new Commit.Snapshot(store.appliedIndex(), opened::complete));
        return opened.orTimeout(10, TimeUnit.SECONDS).join();
    }

    /** The snapshot of the state at the applied index, cut into chunks as a node's snapshot files cut it. */
    List<byte[]> snapshot() throws InterruptedException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (StateView view = view()) {
            view.writeTo(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return chunks(bytes.toByteArray());
    }

    static List<byte[]> chunks(byte[] snapshot) {
        List<byte[]> chunks = new ArrayList<>();
        for (int at = 0; at < snapshot.length; at += SnapshotFiles.CHUNK_BYTES) {
            chunks.add(Arrays.copyOfRange(snapshot, at, Math.min(snapshot.length, at + SnapshotFiles.CHUNK_BYTES)));
        }
        return chunks;
    }

    String lookup(String key) {
        byte[] value = store.lookup(key);
        return value == null ? null : new String(value, StandardCharsets.UTF_8);
    }

    /** A client's plain write, on a thread of its own: completes with what {@link KVStore#write} returns, or throws. */
    CompletableFuture<Result> put(String key, String value) {
        return write(Command.put(key, value.getBytes(StandardCharsets.UTF_8)));
    }

    /** A client's write, on a thread of its own: completes with what {@link KVStore#write} returns, or throws. */
    CompletableFuture<Result> write(Command command) {
        CompletableFuture<Result> written = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                written.complete(store.write(command));
            } catch (InterruptedException | RuntimeException e) {
                written.completeExceptionally(e);
            }
        });
        return written;
    }

    /**
     * Has a client of this store write {@code command}, commits it as the entry after the applied index in a batch
     * stamped {@code stampMillis} (the leader's clock), and returns its result.
     */
    Result apply(Command command, long stampMillis) throws Exception {
        CompletableFuture<Result> written = write(command);
        commitC.put(new Commit.Apply(store.appliedIndex() + 1, stampMillis, List.of(proposeC.take())));
        return written.get(10, TimeUnit.SECONDS);
    }

    /** Stops the applier and closes the store, as a node shuts down. */
    @Override
    public void close() {
        store.close();
    }
}
