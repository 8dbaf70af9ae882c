package io.metcd.raft;

import io.metcd.kv.KVStore;
import io.metcd.model.Operation;
import io.metcd.wal.SnapshotFiles;
import io.microraft.model.RaftModelFactory;
import io.microraft.model.groupop.UpdateRaftGroupMembersOp;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.log.LogEntry;
import io.microraft.model.log.RaftGroupMembersView;
import io.microraft.model.log.SnapshotChunk;
import io.microraft.model.log.SnapshotEntry;
import io.microraft.persistence.RestoredRaftState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Where a disk engine's node restarts: at the index its engine holds, as its own snapshot.
 * <p>
 * A disk engine keeps its state across a restart, and is usually ahead of the newest durable snapshot: snapshots are
 * written a little after they are taken, while the store goes on applying. Restored as it is, MicroRaft would replay
 * the log from that snapshot and may take snapshots on the way (every {@code commitCountToTakeSnapshot} entries, or
 * when asked) at indices the engine has already passed, whose state nobody can produce any more. So the node restarts
 * from a snapshot at the engine's index instead, as etcd does with its bbolt file: its term and members are read from
 * the log, its chunks are written from a view of the engine's state (a snapshot taken here, see
 * {@link KvStateMachine#installSnapshot}), and only the entries after it are replayed. Until it is durable, the log
 * keeps what follows the older durable snapshot, from which a crash restarts again.
 */
final class EngineRestart {
    private static final Logger LOG = LoggerFactory.getLogger(EngineRestart.class);
    private static final RaftModelFactory MODEL = new DefaultRaftModelFactory();

    private EngineRestart() {
    }

    /**
     * The state to restart MicroRaft from, for a store at {@code store.appliedIndex()}: {@code restored} itself unless
     * the store is past its snapshot.
     * <p>
     * A store past the last entry of the log is left to skip what is replayed, as it would be without this: only a
     * crash of the machine can make it (a follower may apply a committed entry before it syncs it, and the page cache
     * may lose the log's tail but not the engine's), the term of its index is not known, and the entries it lacks come
     * back from the leader. A snapshot due in that short stretch stops the node (its store cannot open a view at an
     * index it has passed), and the restart that follows finds those entries in the log.
     */
    static RestoredRaftState startAtEngine(RestoredRaftState restored, KVStore store, SnapshotFiles snapshots) {
        long engineIndex = store.appliedIndex();
        SnapshotEntry durable = restored.getSnapshotEntry();
        long durableIndex = durable == null ? 0 : durable.getIndex();
        if (engineIndex <= durableIndex) {
            return restored;
        }
        long bound = durable == null ? store.emptySnapshotBytes() : snapshots.streamBytes(durableIndex);
        RaftGroupMembersView members = durable == null ? restored.getInitialGroupMembers()
                : durable.getGroupMembersView();
        LogEntry atEngine = null;
        List<LogEntry> after = new ArrayList<>();
        for (LogEntry entry : restored.getLogEntries()) {
            if (entry.getIndex() > engineIndex) {
                after.add(entry);
                continue;
            }
            atEngine = entry;
            switch (entry.getOperation()) {
                case Operation.Batch batch -> bound += store.snapshotGrowthBound(batch.proposals());
                case UpdateRaftGroupMembersOp change -> members = MODEL.createRaftGroupMembersViewBuilder()
                        .setLogIndex(entry.getIndex()).setMembers(change.getMembers())
                        .setVotingMembers(change.getVotingMembers()).build();
                default -> {
                }
            }
        }
        if (atEngine == null || atEngine.getIndex() != engineIndex) {
            LOG.warn("the {} engine holds index {}, past the Raft log (snapshot at {}, {} entries after it): the "
                    + "machine crashed before the log's tail was synced; the store skips the entries it holds as they "
                    + "come back", store.engine(), engineIndex, durableIndex, restored.getLogEntries().size());
            return restored;
        }
        int chunkCount = (int) Math.max(1, Math.ceilDiv(bound, SnapshotFiles.CHUNK_BYTES));
        snapshots.begin(engineIndex, chunkCount);
        List<SnapshotChunk> chunks = new ArrayList<>(chunkCount);
        for (int k = 0; k < chunkCount; k++) {
            chunks.add(MODEL.createSnapshotChunkBuilder().setIndex(engineIndex).setTerm(atEngine.getTerm())
                    .setSnapshotChunkIndex(k).setSnapshotChunkCount(chunkCount).setGroupMembersView(members)
                    .setOperation(new Operation.SnapshotPart(snapshots, engineIndex, k)).build());
        }
        snapshots.describe(chunks.get(0));
        SnapshotEntry own = MODEL.createSnapshotEntryBuilder().setIndex(engineIndex).setTerm(atEngine.getTerm())
                .setSnapshotChunks(chunks).setGroupMembersView(members).build();
        LOG.info("the {} engine holds index {}, past the durable snapshot at {}: restarting from a snapshot of its own "
                + "state at {} and the {} entries after it", store.engine(), engineIndex, durableIndex, engineIndex,
                after.size());
        return new RestoredRaftState(restored.getLocalEndpointPersistentState(), restored.getInitialGroupMembers(),
                restored.getTermPersistentState(), own, after);
    }
}
