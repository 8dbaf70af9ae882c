package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Operation;
import io.metcd.model.StateView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The channel side of every {@link KVStore}: its clients' writes ({@link Writes}) and reads ({@link Reads}), and the
 * applier, which applies {@code commitC} and answers the writes applied. Engines supply only the storage:
 * {@link #get}, {@link #apply}, {@link #flush}, {@link #openView}, {@link #recoverFromSnapshot} and
 * {@link #closeEngine}.
 * <p>
 * The applier works in passes: it applies what {@code commitC} holds, has the engine {@link #flush} it, and
 * only then publishes the applied index and answers the clients, so that an answered write is visible to
 * every later read on this node. Commits at or below the applied index are skipped: they are what MicroRaft
 * replays after a restart into an engine that already holds them. A snapshot marker ends a pass where it stands: the
 * applier flushes what it applied, opens a view of that state and hands it over, and goes on.
 * <p>
 * An applier that fails (anything thrown, an {@link Error} included) stops the node through its {@link FailStop}: a
 * store that stopped applying would otherwise leave the Raft thread waiting on it for ever while the node keeps its
 * vote and serves reads of a frozen state. What waits for the store (writes proposed here, {@link #whenApplied}) fails.
 */
public abstract class AbstractKVStore implements KVStore {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractKVStore.class);
    private static final int MAX_COMMITS_PER_PASS = 256;
    /** How long closing waits for the applier to stop (a snapshot install may be under way). */
    private static final Duration APPLIER_STOP_TIMEOUT = Duration.ofSeconds(5);

    private final FailStop failStop;
    private final Channel.Receiver<Commit> commitC;
    private final AppliedIndex applied;
    private final Deadlines deadlines;
    private final Writes writes;
    private final Reads reads;
    private final Thread applier;

    /**
     * @param fresh        the node starts with no Raft state of its own: a stale read need not wait for a catch-up
     * @param appliedIndex the index the engine's state already reflects: 0 unless it kept state across a restart
     * @param failStop     stops the node if the applier fails
     */
    protected AbstractKVStore(int localId, boolean fresh, Channel.Sender<Proposal> proposeC,
            Channel.Receiver<Commit> commitC, long appliedIndex, FailStop failStop) {
        this.failStop = failStop;
        this.commitC = commitC;
        this.applied = new AppliedIndex(appliedIndex);
        this.deadlines = new Deadlines("request-timeouts-" + localId, REQUEST_TIMEOUT);
        this.writes = new Writes(localId, proposeC, deadlines, applied::when);
        this.reads = new Reads(!fresh, deadlines, applied::when);
        this.applier = Thread.ofVirtual().name("applier-" + localId).unstarted(this::readCommits);
    }

    /** The engine's value for {@code key}, or {@code null}. Called concurrently with {@link #apply}. */
    protected abstract byte[] get(String key);

    /**
     * Applies committed writes in order; called only from the applier. An engine may hold them back until
     * {@link #flush}.
     */
    protected abstract void apply(long index, List<Proposal> proposals);

    /**
     * Makes everything applied so far visible to {@link #get} and, in an engine that keeps its state, stores it
     * together with {@code index}, the last index applied. Called only from the applier.
     */
    protected abstract void flush(long index);

    /**
     * A view of the state as flushed at {@code index}, the last index applied, which later writes do not change (see
     * {@link StateView}); opening it must take constant time. Called only from the applier, between passes.
     */
    protected abstract StateView openView(long index);

    /**
     * Replaces the whole state with the one a {@link StateView} wrote (on any node, by any engine) at log index
     * {@code index}. Called only from the applier.
     */
    protected abstract void recoverFromSnapshot(long index, Iterable<byte[]> chunks);

    /** Closes the engine's files, once the applier has stopped or was given up on. */
    protected abstract void closeEngine();

    // ------------------------------------------------------------------------------------- clients

    @Override
    public long put(String key, byte[] value) throws InterruptedException {
        return writes.write(key, value);
    }

    @Override
    public long delete(String key) throws InterruptedException {
        return writes.write(key, null);
    }

    @Override
    public byte[] read(String key, ReadLevel level) throws InterruptedException {
        reads.await(level);
        return get(key);
    }

    @Override
    public byte[] lookup(String key) {
        return get(key);
    }

    // -------------------------------------------------------------------------------------- the node

    @Override
    public void start(Consensus consensus) {
        writes.serveThrough(consensus);
        reads.serveThrough(consensus);
        applier.start();
    }

    @Override
    public boolean applying() {
        return applier.isAlive();
    }

    @Override
    public long appliedIndex() {
        return applied.get();
    }

    @Override
    public CompletableFuture<Long> whenApplied(long index) {
        return applied.when(index);
    }

    @Override
    public WriteOutcomes writeOutcomes() {
        return writes;
    }

    @Override
    public long emptySnapshotBytes() {
        return SnapshotFormat.EMPTY_BYTES;
    }

    @Override
    public long snapshotGrowthBound(List<Proposal> writes) {
        return SnapshotFormat.growthBound(writes);
    }

    @Override
    public void close() {
        writes.close();
        deadlines.close();
        applier.interrupt();
        try {
            // Not started when the node failed to start first (a taken port): joining it would throw and hide why.
            if (applier.getState() != Thread.State.NEW) {
                applier.join(APPLIER_STOP_TIMEOUT);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeEngine();
    }

    // ----------------------------------------------------------------------------------- the applier

    private void readCommits() {
        List<Commit> commits = new ArrayList<>(MAX_COMMITS_PER_PASS);
        List<Commit.Apply> unanswered = new ArrayList<>(MAX_COMMITS_PER_PASS);
        try {
            while (true) {
                commits.add(commitC.take());
                commitC.drainTo(commits, MAX_COMMITS_PER_PASS - 1);
                long index = applied.get();
                for (Commit commit : commits) {
                    if (commit instanceof Commit.Snapshot s) {
                        settle(index, unanswered);
                        viewAt(index, s);
                        continue;
                    }
                    if (commit.index() <= index) {
                        if (commit instanceof Commit.Restore r) {
                            LOG.info("the store already holds index {}: not reloading the snapshot at {}", index,
                                    commit.index());
                            writes.snapshotInstalled();
                            r.done().run();
                        }
                        continue;
                    }
                    switch (commit) {
                        case Commit.Apply a -> {
                            apply(a.index(), a.proposals());
                            unanswered.add(a);
                        }
                        case Commit.Restore r -> {
                            writes.snapshotInstalled();
                            recoverFromSnapshot(r.index(), r.chunks());
                            r.done().run();
                            CrashPoint.SNAPSHOT_INSTALLED.reached();
                        }
                        case Commit.Snapshot s -> throw new IllegalStateException("handled above: " + s);
                        case Commit.MembershipChanged ignored -> {
                        }
                        case Commit.TermStarted t -> {
                            // Forwarded writes not applied yet fail here: settle the ones that were first.
                            settle(index, unanswered);
                            writes.termStarted(t.term());
                        }
                    }
                    index = commit.index();
                }
                settle(index, unanswered);
                commits.clear();
            }
        } catch (InterruptedException e) {
            LOG.debug("applier stopped");
        } catch (RuntimeException | Error e) {
            if (stopping(e)) {
                LOG.debug("applier stopped while applying", e);
            } else {
                stopApplying(e);
            }
        }
    }

    /**
     * Whether {@code e} comes of the node stopping, whatever wrapped it: the interrupt that stops the applier (a file
     * channel closes when its thread is interrupted, and the flag may be cleared), or the WAL, which closes as
     * consensus stops, refusing the chunks of a snapshot being loaded.
     */
    private static boolean stopping(Throwable e) {
        if (Thread.currentThread().isInterrupted()) {
            return true;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InterruptedException || t instanceof InterruptedIOException
                    || t instanceof ClosedByInterruptException || t instanceof Operation.ChunkSource.Closed) {
                return true;
            }
        }
        return false;
    }

    /** Stops the node, then fails what waits for this store: nothing it has not applied yet ever will be. */
    private void stopApplying(Throwable cause) {
        try {
            failStop.stop("the applier failed after index " + applied.get(), cause);
        } finally {
            applied.fail(cause);
            writes.failAll(applied.stopped());
        }
    }

    /**
     * Opens the view a snapshot marker asks for, once everything up to {@code index} (the last commit before the
     * marker, which follows the snapshot's entry) is flushed. A marker for an index this store has left behind cannot
     * be served: the view would not be of that state.
     */
    private void viewAt(long index, Commit.Snapshot marker) {
        if (marker.index() != index) {
            throw new IllegalStateException("a snapshot at index " + marker.index() + " was asked of a store at index "
                    + index);
        }
        marker.viewOpened().accept(openView(index));
        CrashPoint.SNAPSHOT_VIEW_OPEN.reached();
    }

    /** Flushes what this pass applied up to {@code index}, publishes it, then answers its clients. */
    private void settle(long index, List<Commit.Apply> unanswered) {
        if (index <= applied.get()) {
            return;
        }
        flush(index);
        applied.advance(index);
        for (Commit.Apply a : unanswered) {
            for (Proposal p : a.proposals()) {
                writes.applied(p, a.index());
            }
        }
        unanswered.clear();
    }
}
