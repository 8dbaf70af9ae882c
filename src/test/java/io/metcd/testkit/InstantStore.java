package io.metcd.testkit;

import io.metcd.kv.KVStore;
import io.metcd.kv.MapKVStore;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;

import java.nio.file.Path;
import java.util.List;

/**
 * A real in-memory store behind a Raft loop of one node that a test plays at once: each write proposed is committed
 * as an entry of its own, stamped with this JVM's clock, and the node leads (so its expiry loop runs). For tests of
 * what sits above the store (the HTTP API, the Redis adapter) with the store's real semantics and no cluster.
 */
public final class InstantStore implements AutoCloseable {
    public final KVStore store;
    public final StubConsensus consensus = new StubConsensus();
    private final Thread raft;

    public InstantStore() {
        Channel<Proposal> proposeC = new Channel<>(1024);
        Channel<Commit> commitC = new Channel<>(1024);
        store = new MapKVStore(1, true, proposeC.sender(), commitC.receiver(),
                new FailStop(Path.of("."), failure -> { }));
        consensus.leads = true;
        store.start(consensus);
        raft = Thread.ofVirtual().name("instant-raft").start(() -> {
            try {
                for (long index = 1; ; index++) {
                    commitC.sender().put(new Commit.Apply(index, System.currentTimeMillis(),
                            List.of(proposeC.receiver().take())));
                }
            } catch (InterruptedException e) {
                // closed
            }
        });
    }

    @Override
    public void close() {
        raft.interrupt();
        store.close();
    }
}
