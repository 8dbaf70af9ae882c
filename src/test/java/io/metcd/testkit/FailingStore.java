package io.metcd.testkit;

import io.metcd.kv.AbstractKVStore;
import io.metcd.kv.Record;
import io.metcd.kv.SnapshotFormat;
import io.metcd.kv.StoreMeta;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.util.Map;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * A store whose engine fails as a real one can: storing what it applied, taking or installing a snapshot throws the given
 * {@link RuntimeException} or {@link Error} (a full disk under a memory-mapped file is an {@code InternalError}; an
 * exhausted heap, an {@code OutOfMemoryError}).
 */
public final class FailingStore extends AbstractKVStore {
    private final Throwable failure;
    /** What the store proposes: a test plays the Raft loop. */
    public final Channel.Receiver<Proposal> proposeC;

    /**
     * @param appliedIndex where the store starts, as one that kept its state across a restart
     * @param failure      a {@link RuntimeException} or an {@link Error}
     */
    public FailingStore(Channel.Receiver<Commit> commitC, long appliedIndex, Throwable failure, FailStop failStop) {
        this(new Channel<>(1), commitC, appliedIndex, failure, failStop);
    }

    private FailingStore(Channel<Proposal> proposals, Channel.Receiver<Commit> commitC, long appliedIndex,
            Throwable failure, FailStop failStop) {
        super(1, true, proposals.sender(), commitC, appliedIndex, StoreMeta.EMPTY, failStop);
        if (!(failure instanceof RuntimeException || failure instanceof Error)) {
            throw new IllegalArgumentException("not unchecked: " + failure);
        }
        this.failure = failure;
        this.proposeC = proposals.receiver();
    }

    @Override
    protected Record load(String key) {
        return null;
    }

    @Override
    protected void store(long index, StoreMeta meta, Map<String, Record> changes) {
        throw fail();
    }

    @Override
    protected void scan(String from, BiPredicate<String, Record> visit) {
    }

    @Override
    protected StateView openView(long index, StoreMeta meta) {
        throw fail();
    }

    @Override
    protected void recoverFromSnapshot(long index, StoreMeta meta, SnapshotFormat.Entries entries) {
        throw fail();
    }

    @Override
    protected void forEachExpiring(BiConsumer<String, Long> expiresAt) {
    }

    @Override
    protected void closeEngine() {
    }

    @Override
    public String engine() {
        return "failing";
    }

    private RuntimeException fail() {
        if (failure instanceof Error e) {
            throw e;
        }
        return (RuntimeException) failure;
    }
}
