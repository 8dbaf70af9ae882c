package io.metcd.testkit;

import io.metcd.kv.AbstractKVStore;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.StateView;

import java.util.List;

/**
 * A store whose engine fails as a real one can: applying, taking or installing a snapshot throws the given
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
        super(1, true, proposals.sender(), commitC, appliedIndex, failStop);
        if (!(failure instanceof RuntimeException || failure instanceof Error)) {
            throw new IllegalArgumentException("not unchecked: " + failure);
        }
        this.failure = failure;
        this.proposeC = proposals.receiver();
    }

    @Override
    protected byte[] get(String key) {
        return null;
    }

    @Override
    protected void apply(long index, List<Proposal> proposals) {
        throw fail();
    }

    @Override
    protected void flush(long index) {
    }

    @Override
    protected StateView openView(long index) {
        throw fail();
    }

    @Override
    protected void recoverFromSnapshot(long index, Iterable<byte[]> chunks) {
        throw fail();
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
