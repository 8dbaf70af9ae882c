package io.metcd;

import io.metcd.http.HttpApi;
import io.metcd.kv.AbstractKVStore;
import io.metcd.kv.MapKVStore;
import io.metcd.raft.Commit;
import io.metcd.raft.Member;
import io.metcd.raft.PendingWrite;
import io.metcd.raft.RaftLoop;
import io.metcd.wal.ChronicleRaftStore;
import io.microraft.RaftConfig;
import io.microraft.persistence.RestoredRaftState;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * One metcd node wired together, as raftexample's main.go does it: the channels, the store, the WAL, the
 * Raft loop and the HTTP API. {@link Main} builds one from flags; tests build several in one JVM.
 */
public final class Node implements AutoCloseable {
    /** Writes waiting to be proposed: beyond this, clients are told to back off instead of queueing forever. */
    private static final int PROPOSE_CAPACITY = 16_384;
    /** Committed entries waiting to be applied: a full channel slows the Raft thread down. */
    private static final int COMMIT_CAPACITY = 1024;

    /** Everything a node is started with. */
    public record Settings(Member local, List<Member> members, int clientPort, Path dataDir, int snapshotCount) {
    }

    private final RaftLoop raft;
    private final HttpApi http;
    private final boolean restarted;

    private Node(RaftLoop raft, HttpApi http, boolean restarted) {
        this.raft = raft;
        this.http = http;
        this.restarted = restarted;
    }

    /**
     * Opens (or creates) the node's data, starts consensus and then the client API.
     *
     * @param onWalFailure run once if the WAL cannot persist; it must stop the node
     * @throws IllegalStateException if the data directory belongs to another node
     */
    public static Node start(Settings settings, Runnable onWalFailure) {
        BlockingQueue<PendingWrite> proposeC = new ArrayBlockingQueue<>(PROPOSE_CAPACITY);
        BlockingQueue<Commit> commitC = new ArrayBlockingQueue<>(COMMIT_CAPACITY);
        AbstractKVStore store = new MapKVStore(settings.local().id(), proposeC, commitC);
        ChronicleRaftStore wal = ChronicleRaftStore.open(settings.dataDir().resolve("wal"), onWalFailure);
        Optional<RestoredRaftState> restored = wal.restore();
        if (restored.isPresent()) {
            Member persisted = (Member) restored.get().getLocalEndpointPersistentState().getLocalEndpoint();
            if (persisted.id() != settings.local().id()) {
                wal.close();
                throw new IllegalStateException("the data directory " + settings.dataDir() + " belongs to node "
                        + persisted.id() + ", not " + settings.local().id());
            }
        }
        RaftLoop raft = new RaftLoop(settings.local(), settings.members(), raftConfig(settings.snapshotCount()), wal,
                restored, proposeC, commitC, store);
        raft.start();
        HttpApi http = new HttpApi(raft, store, restored.isPresent()).start(settings.clientPort());
        return new Node(raft, http, restored.isPresent());
    }

    private static RaftConfig raftConfig(int snapshotCount) {
        // Whole seconds are MicroRaft's unit: 1 s heartbeats and a 2 s timeout give a new leader within
        // about 3 s of a crash, instead of the 10 s default.
        return RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(750).setLeaderHeartbeatPeriodSecs(1)
                .setLeaderHeartbeatTimeoutSecs(2).setCommitCountToTakeSnapshot(snapshotCount)
                .setAppendEntriesRequestBatchSize(100).setMaxPendingLogEntryCount(2000)
                .setRaftNodeReportPublishPeriodSecs(5).build();
    }

    public RaftLoop raft() {
        return raft;
    }

    /** Whether the node came back from existing data rather than starting fresh. */
    public boolean restarted() {
        return restarted;
    }

    /** Stops serving clients first, then consensus, then closes the store and the WAL. */
    @Override
    public void close() {
        http.close();
        raft.close();
    }
}
