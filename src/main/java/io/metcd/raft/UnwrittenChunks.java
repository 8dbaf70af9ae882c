package io.metcd.raft;

import io.metcd.model.CrashPoint;
import io.metcd.model.Operation;
import io.microraft.RaftEndpoint;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.message.InstallSnapshotRequest;
import io.microraft.model.message.RaftMessage;
import io.microraft.transport.Transport;

import java.util.concurrent.CompletableFuture;

/**
 * Holds back a snapshot chunk that MicroRaft sends before it is written (a snapshot's chunks are written after it is
 * taken, see {@link KvStateMachine}), and sends it once it is: neither the Raft thread nor the peer's outbound thread,
 * which carries the heartbeats too, may wait for it. A chunk whose snapshot is given up meanwhile is not sent; the
 * follower asks again, and learns of the newer snapshot.
 */
final class UnwrittenChunks implements Transport {
    private final Transport transport;

    /** @param transport where messages go, a held chunk once written */
    UnwrittenChunks(Transport transport) {
        this.transport = transport;
    }

    @Override
    public void send(RaftEndpoint target, RaftMessage message) {
        if (message instanceof InstallSnapshotRequest request && request.getSnapshotChunk() != null) {
            SnapshotChunk chunk = request.getSnapshotChunk();
            CompletableFuture<Void> readable = ((Operation.SnapshotPart) chunk.getOperation()).whenReadable();
            if (!readable.isDone()) {
                readable.thenRun(() -> transport.send(target, message));
                return;
            }
            if (chunk.getSnapshotChunkIndex() == 1) {
                CrashPoint.SNAPSHOT_CHUNK_SENT.reached();
            }
        }
        transport.send(target, message);
    }

    @Override
    public boolean isReachable(RaftEndpoint endpoint) {
        return transport.isReachable(endpoint);
    }
}
