package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The in-memory engine: a sorted concurrent map, rebuilt on restart from the latest snapshot and the WAL.
 * Sorted in the order of the keys' UTF-8 bytes, the order of the disk engines and of the snapshot format
 * ({@link SnapshotFormat}). Snapshots are written from views that cost nothing to open ({@link PreImages}).
 */
public final class MapKVStore extends AbstractKVStore {
    /**
     * Code point order, which is the unsigned order of the UTF-8 encodings. {@link String#compareTo} compares
     * UTF-16 units instead and puts U+E000..U+FFFF after the surrogates of U+10000 and above.
     */
    static final Comparator<String> UTF8_ORDER = (a, b) -> {
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
            char x = a.charAt(i);
            char y = b.charAt(i);
            if (x != y) {
                if (x >= Character.MIN_SURROGATE && y >= Character.MIN_SURROGATE) {
                    return Integer.compare(codePointRank(x), codePointRank(y));
                }
                return x - y;
            }
        }
        return a.length() - b.length();
    };

    /** For units from U+D800 up: moves surrogates above U+E000..U+FFFF, where the code points they encode belong. */
    private static int codePointRank(char c) {
        return Character.isSurrogate(c) ? c + 0x2000 : c - 0x800;
    }

    /**
     * Replaced whole by a snapshot install, so that a concurrent reader never sees a half-loaded map; views of the
     * map replaced keep reading it, which nothing changes any more.
     */
    private volatile ConcurrentSkipListMap<String, byte[]> map = new ConcurrentSkipListMap<>(UTF8_ORDER);
    /** The views of {@link #map}; the applier's only. */
    private PreImages<String> views = new PreImages<>(map, SnapshotFormat::keyBytes);

    /** @param fresh the node starts with no Raft state of its own */
    public MapKVStore(int localId, boolean fresh, Channel.Sender<Proposal> proposeC, Channel.Receiver<Commit> commitC,
            FailStop failStop) {
        super(localId, fresh, proposeC, commitC, 0, failStop);
    }

    @Override
    public String engine() {
        return Engine.map.name();
    }

    @Override
    protected byte[] get(String key) {
        return map.get(key);
    }

    @Override
    protected void apply(long index, List<Proposal> proposals) {
        for (Proposal p : proposals) {
            if (views.recording()) {
                views.beforeChange(p.key(), map.get(p.key()));
            }
            if (p.isDelete()) {
                map.remove(p.key());
            } else {
                map.put(p.key(), p.value());
            }
        }
    }

    /** Nothing to do: every write is visible as soon as it is applied, and nothing outlives the process. */
    @Override
    protected void flush(long index) {
    }

    @Override
    protected StateView openView(long index) {
        return views.open(index);
    }

    @Override
    protected void recoverFromSnapshot(long index, Iterable<byte[]> chunks) {
        ConcurrentSkipListMap<String, byte[]> restored = new ConcurrentSkipListMap<>(UTF8_ORDER);
        SnapshotFormat.read(chunks, index, (key, value) -> restored.put(new String(key, StandardCharsets.UTF_8), value));
        map = restored;
        views = new PreImages<>(restored, SnapshotFormat::keyBytes);
    }

    /** Nothing to close: the state lives and dies with the process. */
    @Override
    protected void closeEngine() {
    }
}
