package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.nio.charset.StandardCharsets;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

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
    private volatile ConcurrentSkipListMap<String, Record> map = new ConcurrentSkipListMap<>(UTF8_ORDER);
    /** The views of {@link #map}; the applier's only. */
    private PreImages<String, Record> views = new PreImages<>(map, SnapshotFormat.Out::add);

    /** @param fresh the node starts with no Raft state of its own */
    public MapKVStore(int localId, boolean fresh, Channel.Sender<Proposal> proposeC, Channel.Receiver<Commit> commitC,
            FailStop failStop) {
        super(localId, fresh, proposeC, commitC, 0, StoreMeta.EMPTY, failStop);
    }

    @Override
    public String engine() {
        return Engine.map.name();
    }

    @Override
    protected Record load(String key) {
        return map.get(key);
    }

    /** Nothing outlives the process: the changes only go into the map. */
    @Override
    protected void store(long index, StoreMeta meta, Map<String, Record> changes) {
        changes.forEach((key, record) -> {
            if (views.recording()) {
                views.beforeChange(key, map.get(key));
            }
            if (record == null) {
                map.remove(key);
            } else {
                map.put(key, record);
            }
        });
    }

    @Override
    protected void scan(String from, BiPredicate<String, Record> visit) {
        for (Map.Entry<String, Record> e : map.tailMap(from, true).entrySet()) {
            if (!visit.test(e.getKey(), e.getValue())) {
                return;
            }
        }
    }

    @Override
    protected StateView openView(long index, StoreMeta meta) {
        return views.open(index, meta);
    }

    @Override
    protected void recoverFromSnapshot(long index, StoreMeta meta, SnapshotFormat.Entries entries) {
        ConcurrentSkipListMap<String, Record> restored = new ConcurrentSkipListMap<>(UTF8_ORDER);
        entries.forEach((key, record) -> restored.put(new String(key, StandardCharsets.UTF_8), Record.decode(record)));
        exclusively(() -> {
            map = restored;
            views = new PreImages<>(restored, SnapshotFormat.Out::add);
        });
    }

    /** Nothing: the map starts empty at every start. */
    @Override
    protected void forEachExpiring(BiConsumer<String, Long> expiresAt) {
    }

    /** Nothing to close: the state lives and dies with the process. */
    @Override
    protected void closeEngine() {
    }
}
