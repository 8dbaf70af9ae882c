package io.metcd.kv;

import io.metcd.raft.Commit;
import io.metcd.raft.Operation.Proposal;
import io.metcd.raft.PendingWrite;
import io.metcd.transport.Codec;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The in-memory engine: a sorted concurrent map, rebuilt on restart from the latest snapshot and the WAL.
 * Sorted, so that every node cuts the same snapshot into the same chunks (MicroRaft may fetch a
 * snapshot's chunks from different nodes).
 */
public final class MapKVStore extends AbstractKVStore {
    /** Snapshot chunk size: large enough to amortise per-chunk overhead, small enough for one peer frame. */
    static final int CHUNK_BYTES = 1 << 20;

    /** Replaced whole by a snapshot install, so that a concurrent reader never sees a half-loaded map. */
    private volatile ConcurrentSkipListMap<String, byte[]> map = new ConcurrentSkipListMap<>();

    public MapKVStore(int localId, BlockingQueue<PendingWrite> proposeC, BlockingQueue<Commit> commitC) {
        super(localId, proposeC, commitC);
    }

    @Override
    public String engine() {
        return "map";
    }

    @Override
    protected byte[] get(String key) {
        return map.get(key);
    }

    @Override
    protected void apply(long index, List<Proposal> proposals) {
        for (Proposal p : proposals) {
            if (p.isDelete()) {
                map.remove(p.key());
            } else {
                map.put(p.key(), p.value());
            }
        }
    }

    /** Called on the Raft thread once everything up to the snapshot index is applied and nothing more is. */
    @Override
    public List<byte[]> snapshot() {
        List<byte[]> chunks = new ArrayList<>();
        Codec.Writer out = new Codec.Writer(CHUNK_BYTES + 4096);
        for (Map.Entry<String, byte[]> e : map.entrySet()) {
            out.string(e.getKey()).bytes(e.getValue());
            if (out.length() >= CHUNK_BYTES) {
                chunks.add(out.toByteArray());
                out.reset();
            }
        }
        if (out.length() > 0 || chunks.isEmpty()) {
            chunks.add(out.toByteArray());
        }
        return chunks;
    }

    @Override
    public void recoverFromSnapshot(List<byte[]> chunks) {
        ConcurrentSkipListMap<String, byte[]> restored = new ConcurrentSkipListMap<>();
        for (byte[] chunk : chunks) {
            Codec.Reader in = new Codec.Reader(ByteBuffer.wrap(chunk));
            while (in.remaining() > 0) {
                restored.put(in.string(), in.bytes());
            }
        }
        map = restored;
    }
}
