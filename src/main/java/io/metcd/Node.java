package io.metcd;

import io.metcd.http.HttpApi;
import io.metcd.kv.Engine;
import io.metcd.kv.KVStore;
import io.metcd.metrics.Metrics;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Member;
import io.metcd.model.Operation.Proposal;
import io.metcd.raft.ConfChange;
import io.metcd.raft.RaftLoop;
import io.metcd.raft.RaftTiming;
import io.metcd.resp.RespServer;
import io.metcd.wal.ChronicleRaftStore;
import io.metcd.wal.SnapshotFiles;
import io.metcd.watch.WatchHub;
import io.microraft.RaftConfig;
import io.microraft.RaftRole;
import io.microraft.persistence.RestoredRaftState;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One metcd node wired together, as raftexample's main.go does it: the channels, the store, the WAL, the
 * Raft loop, the HTTP API and, when asked, the Redis protocol. {@link Main} builds one from flags; tests build several in one JVM.
 */
public final class Node implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Node.class);
    /** Writes waiting to be proposed: beyond this, clients are told to back off instead of queueing forever. */
    private static final int PROPOSE_CAPACITY = 16_384;

    /**
     * Everything a node is started with.
     *
     * @param members the members listed in {@code --cluster}, this node included
     * @param join    this node was added to a running cluster and starts with no data of its own
     * @param engine  where the applied state lives; a data directory is only ever opened with the engine that
     *                wrote it
     * @param faultInjection whether the client API also serves the test-only fault-injection requests
     * @param redisPort      where to serve the Redis protocol, 0 for nowhere
     */
    public record Settings(Member local, List<Member> members, int clientPort, Path dataDir, int snapshotCount,
            boolean join, Engine engine, boolean faultInjection, int redisPort) {
        /** Where this node serves clients: the host of its peer URL, on the client port. */
        String clientUrl() {
            return "http://" + local.host() + ":" + clientPort;
        }
    }

    private final KVStore store;
    private final RaftLoop raft;
    private final HttpApi http;
    /** Empty when {@code --redis-port} is 0. */
    private final Optional<RespServer> redis;
    private final boolean restarted;

    private Node(KVStore store, RaftLoop raft, HttpApi http, Optional<RespServer> redis, boolean restarted) {
        this.store = store;
        this.raft = raft;
        this.http = http;
        this.redis = redis;
        this.restarted = restarted;
    }

    /**
     * Opens (or creates) the node's data, starts the store's applier and consensus, and then the client API.
     *
     * @param failStop  stops the node when the WAL, the store or the state machine fails: shared by all three
     * @param onRemoved run once if the node learns it is not a member of the cluster; it must stop the node
     * @throws IllegalStateException if the data directory belongs to another node or was written by another engine
     */
    public static Node start(Settings settings, FailStop failStop, Runnable onRemoved) {
        Channel<Proposal> proposeC = new Channel<>(PROPOSE_CAPACITY);
        // One change waits there at most: a second one sent meanwhile is refused, as one change runs at a time.
        Channel<ConfChange> confChangeC = new Channel<>(1);
        Channel<Commit> commitC = Commit.channel(settings.snapshotCount());
        Metrics metrics = new Metrics();
        SnapshotFiles snapshots = SnapshotFiles.open(settings.dataDir().resolve("snap"), SnapshotFiles.CHUNK_BYTES,
                failStop);
        ChronicleRaftStore wal;
        try {
            wal = ChronicleRaftStore.open(settings.dataDir().resolve("wal"), snapshots, failStop);
        } catch (RuntimeException e) {
            snapshots.close();
            throw e;
        }
        wal.reportSyncTimes(metrics::walSynced);
        snapshots.reportWriteTimes(metrics::snapshotWritten);
        snapshots.reportSyncTimes(metrics::snapshotSynced);
        Optional<RestoredRaftState> restored = wal.restore();
        if (restored.isPresent()) {
            Member persisted = (Member) restored.get().getLocalEndpointPersistentState().getLocalEndpoint();
            if (persisted.id() != settings.local().id()) {
                wal.close();
                throw new IllegalStateException("the data directory " + settings.dataDir() + " belongs to node "
                        + persisted.id() + ", not " + settings.local().id());
            }
        }
        KVStore store;
        try {
            store = settings.engine().open(settings.dataDir(), restored.isEmpty(), settings.local().id(),
                    proposeC.sender(), commitC.receiver(), failStop);
        } catch (RuntimeException e) {
            wal.close();
            throw e;
        }
        // A joining node starts from the members it joins (MicroRaft wants the group's initial members; those
        // listed before it are, as long as ids are only ever appended) and learns the rest from the leader.
        List<Member> initialMembers = settings.join()
                ? settings.members().stream().filter(m -> !m.equals(settings.local())).toList()
                : settings.members();
        RaftLoop raft;
        try {
            raft = new RaftLoop(settings.local(), settings.clientUrl(), initialMembers,
                    raftConfig(settings.snapshotCount()), wal, restored, proposeC.receiver(), confChangeC,
                    commitC.sender(), store, onRemoved, failStop, metrics);
        } catch (RuntimeException e) {
            store.close();
            wal.close();
            throw e;
        }
        try {
            metrics.watchRaft(raft::term, () -> raft.role() == RaftRole.LEADER, () -> raft.leader() != null,
                    raft::report);
            metrics.watchStore(store::appliedIndex);
            store.reportStoreTimes(metrics::passStored);
            metrics.watchPeers(raft.transport());
            WatchHub watches = new WatchHub(WatchHub.DEFAULT_HISTORY_BYTES);
            store.listen(watches);
            store.start(raft);
            raft.start();
            HttpApi http = new HttpApi(store, raft, watches,
                    settings.faultInjection() ? Optional.of(raft.transport().faults()) : Optional.empty(), metrics)
                    .start(settings.local().host(), settings.clientPort());
            Optional<RespServer> redis;
            try {
                redis = settings.redisPort() == 0 ? Optional.empty() : Optional.of(new RespServer(
                        new RedisKeyspace(store), new RedisCluster(raft, store), metrics)
                        .start(settings.local().host(), settings.redisPort()));
            } catch (RuntimeException e) {
                http.close();
                throw e;
            }
            return new Node(store, raft, http, redis, restored.isPresent());
        } catch (RuntimeException e) {
            // A port taken by another process, typically: release the data directory and the peer port, so
            // that the caller can report it and a retry (or another node in this JVM) can open them. MicroRaft
            // closes the WAL only if it started.
            raft.close();
            store.close();
            wal.close();
            throw e;
        }
    }

    private static RaftConfig raftConfig(int snapshotCount) {
        // Snapshots come from the leader only: nodes take them at indices of their own, so a follower MicroRaft would
        // list as a source may not have the one asked for.
        return RaftTiming.configure(RaftConfig.newBuilder()).setCommitCountToTakeSnapshot(snapshotCount)
                .setTransferSnapshotsFromFollowersEnabled(false)
                .setAppendEntriesRequestBatchSize(100).setMaxPendingLogEntryCount(2000).build();
    }

    public RaftLoop raft() {
        return raft;
    }

    /** Whether the node came back from existing data rather than starting fresh. */
    public boolean restarted() {
        return restarted;
    }

    /**
     * Stops gracefully: a leader first hands leadership over (so the cluster elects no one by timeout),
     * then the node stops taking requests and finishes those in progress, then stops consensus, the store's
     * applier and the WAL.
     */
    @Override
    public void close() {
        try {
            raft.transferLeadership().join();
        } catch (RuntimeException e) {
            LOG.warn("leadership hand-over failed ({}); stopping anyway", e.getMessage());
        }
        redis.ifPresent(RespServer::close);
        http.close();
        // MicroRaft closes the WAL as it terminates, after its last call.
        raft.close();
        store.close();
    }
}
