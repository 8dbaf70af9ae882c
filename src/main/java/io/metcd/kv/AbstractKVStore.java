package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.CrashPoint;
import io.metcd.model.FailStop;
import io.metcd.model.Command;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Operation;
import io.metcd.model.Result;
import io.metcd.model.StateView;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.InterruptedIOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/**
 * The channel side of every {@link KVStore}: its clients' writes ({@link Writes}) and reads ({@link Reads}), the
 * applier, which applies {@code commitC} and answers the writes applied, and the leader's expiries
 * ({@link Expiries}). Engines supply only the storage of records ({@link Record}) by key: {@link #load},
 * {@link #store}, {@link #scan}, {@link #openView}, {@link #recoverFromSnapshot}, {@link #forEachExpiring} and
 * {@link #closeEngine}.
 * <p>
 * The applier works in passes: it applies what {@code commitC} holds, each command through {@link CommandApplier}
 * into the pass's {@link Pass}, has the engine {@link #store} the pass's changes, and only then publishes the applied
 * index, tells the {@link ChangeListener} and answers the clients, so that an answered write is visible to every later
 * read on this node. Commits at or below the applied index are skipped: they are what MicroRaft replays after a
 * restart into an engine that already holds them. A snapshot marker ends a pass where it stands: the applier stores
 * what it applied, opens a view of that state and hands it over, and goes on.
 * <p>
 * Reads of several keys and ranges see one pass whole: the engine stores a pass under the write lock of
 * {@link #view}, and they read under its read lock.
 * <p>
 * An applier that fails (anything thrown, an {@link Error} included) stops the node through its {@link FailStop}: a
 * store that stopped applying would otherwise leave the Raft thread waiting on it for ever while the node keeps its
 * vote and serves reads of a frozen state. What waits for the store (writes proposed here, {@link #whenApplied}) fails.
 */
public abstract class AbstractKVStore implements KVStore {
    private static final Logger LOG = LoggerFactory.getLogger(AbstractKVStore.class);
    private static final int MAX_COMMITS_PER_PASS = 256;
    /** Bounds what a pass holds back in memory before the engine stores it: large values make large passes. */
    private static final int MAX_PASS_BYTES = 8 << 20;
    /** How long closing waits for the applier to stop (a snapshot install may be under way). */
    private static final Duration APPLIER_STOP_TIMEOUT = Duration.ofSeconds(5);

    private final FailStop failStop;
    private final Channel.Receiver<Commit> commitC;
    private final AppliedIndex applied;
    private final Deadlines deadlines;
    private final Writes writes;
    private final Reads reads;
    private final Expiries expiries;
    private final Thread applier;
    private final ReentrantReadWriteLock view = new ReentrantReadWriteLock();
    private final ExpiryIndex expiring = new ExpiryIndex();
    /** The store's metadata as of what readers see; written under the view's write lock. */
    private volatile StoreMeta visible;
    /** The applier's. */
    private final Pass pass;
    private volatile ChangeListener listener = ChangeListener.NONE;
    private volatile LongConsumer storeTimes = nanos -> { };

    /**
     * @param fresh        the node starts with no Raft state of its own: a stale read need not wait for a catch-up
     * @param appliedIndex the index the engine's state already reflects: 0 unless it kept state across a restart
     * @param meta         the store's metadata at that index
     * @param failStop     stops the node if the applier fails
     */
    protected AbstractKVStore(int localId, boolean fresh, Channel.Sender<Proposal> proposeC,
            Channel.Receiver<Commit> commitC, long appliedIndex, StoreMeta meta, FailStop failStop) {
        this.failStop = failStop;
        this.commitC = commitC;
        this.applied = new AppliedIndex(appliedIndex);
        this.visible = meta;
        this.pass = new Pass(meta, this::load);
        this.deadlines = new Deadlines("request-timeouts-" + localId, REQUEST_TIMEOUT);
        this.writes = new Writes(localId, proposeC, deadlines, applied::when);
        this.reads = new Reads(!fresh, deadlines, applied::when);
        this.expiries = new Expiries(localId, this::due, writes);
        this.applier = Thread.ofVirtual().name("applier-" + localId).unstarted(this::readCommits);
    }

    // ------------------------------------------------------------------------------------ the engine

    /**
     * The record the engine shows for {@code key}, or {@code null}. Called by the applier, and by readers under the
     * view's read lock.
     */
    protected abstract Record load(String key);

    /**
     * Makes {@code changes} ({@code null} for a deleted key) visible to {@link #load} and, in an engine that keeps its
     * state, stores them with {@code index}, the last index applied, and {@code meta}. Called by the applier under the
     * view's write lock.
     */
    protected abstract void store(long index, StoreMeta meta, Map<String, Record> changes);

    /**
     * Visits the keys from {@code from} on (inclusive), in unsigned byte order of their UTF-8 encoding, until
     * {@code visit} returns false. Called under the view's read lock.
     */
    protected abstract void scan(String from, BiPredicate<String, Record> visit);

    /**
     * A view of the state as stored at {@code index}, the last index applied, with {@code meta}, which later writes do
     * not change (see {@link StateView}); opening it must take constant time. Called only from the applier, between
     * passes.
     */
    protected abstract StateView openView(long index, StoreMeta meta);

    /**
     * Replaces the whole state with {@code entries} (keys and encoded records, in order), the state a
     * {@link StateView} wrote (on any node, by any engine) at log index {@code index}, with {@code meta}. Called only
     * from the applier; the new state replaces the old one under {@link #exclusively}.
     */
    protected abstract void recoverFromSnapshot(long index, StoreMeta meta, SnapshotFormat.Entries entries);

    /** Every key that expires and when, as the engine holds them when the store opens. */
    protected abstract void forEachExpiring(BiConsumer<String, Long> expiresAt);

    /** Closes the engine's files, under the view's write lock, once the applier has stopped or was given up on. */
    protected abstract void closeEngine();

    /** Runs {@code change} with no reader in the state. */
    protected final void exclusively(Runnable change) {
        view.writeLock().lock();
        try {
            change.run();
        } finally {
            view.writeLock().unlock();
        }
    }

    private <T> T shared(Supplier<T> read) {
        view.readLock().lock();
        try {
            return read.get();
        } finally {
            view.readLock().unlock();
        }
    }

    // ------------------------------------------------------------------------------------- clients

    @Override
    public Result write(Command command) throws InterruptedException {
        return writes.write(command);
    }

    @Override
    public Values read(List<String> keys, ReadLevel level) throws InterruptedException {
        reads.await(level);
        return shared(() -> {
            List<Record> records = new ArrayList<>(keys.size());
            for (String key : keys) {
                records.add(load(key));
            }
            return new Values(visible.revision(), Collections.unmodifiableList(records));
        });
    }

    @Override
    public Page range(String prefix, String after, int limit, ReadLevel level) throws InterruptedException {
        reads.await(level);
        String from = after != null && MapKVStore.UTF8_ORDER.compare(after, prefix) >= 0 ? after : prefix;
        return shared(() -> {
            List<Keyed> keys = new ArrayList<>(Math.min(limit, 1024));
            boolean[] more = {false};
            scan(from, (key, record) -> {
                if (!key.startsWith(prefix)) {
                    return false;
                } else if (key.equals(after)) {
                    return true;
                } else if (keys.size() == limit) {
                    more[0] = true;
                    return false;
                }
                keys.add(new Keyed(key, record));
                return true;
            });
            return new Page(visible.revision(), List.copyOf(keys), more[0]);
        });
    }

    @Override
    public Count count(ReadLevel level) throws InterruptedException {
        reads.await(level);
        return shared(() -> new Count(visible.keys(), expiring.size()));
    }

    @Override
    public byte[] lookup(String key) {
        Record record = shared(() -> load(key));
        return record == null ? null : record.value();
    }

    /** The keys due to expire at {@code nowMillis} by the index, each with the revision it is due at. */
    private List<Command.Due> due(long nowMillis, int limit) {
        return shared(() -> {
            List<Command.Due> due = new ArrayList<>();
            for (String key : expiring.due(nowMillis, limit)) {
                Record r = load(key);
                if (r != null && r.expires() && r.expiresAt() <= nowMillis) {
                    due.add(new Command.Due(key, r.modRevision()));
                }
            }
            return due;
        });
    }

    // -------------------------------------------------------------------------------------- the node

    @Override
    public void start(Consensus consensus) {
        forEachExpiring(expiring::set);
        writes.serveThrough(consensus);
        reads.serveThrough(consensus);
        expiries.serveThrough(consensus);
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
    public void requestTimeout(Duration timeout) {
        if (!timeout.isPositive() || timeout.compareTo(REQUEST_TIMEOUT) > 0) {
            throw new IllegalArgumentException("the request timeout must be positive and at most "
                    + REQUEST_TIMEOUT.toMillis() + " ms, not " + timeout.toMillis() + " ms");
        }
        deadlines.timeout(timeout);
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
    public void reportStoreTimes(LongConsumer observer) {
        storeTimes = observer;
    }

    @Override
    public void listen(ChangeListener listener) {
        // Under the view's lock, the revision told is that of a made-visible state whose events are not yet told, if
        // any: the listener ignores them (ChangeListener's contract).
        exclusively(() -> {
            this.listener = listener;
            listener.restored(visible.revision());
        });
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
        expiries.close();
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
        exclusively(this::closeEngine);
    }

    // ----------------------------------------------------------------------------------- the applier

    /** A command applied and not yet answered: answered once its pass is visible. */
    private record Unanswered(Proposal proposal, long index, Result result) {
    }

    private void readCommits() {
        List<Commit> commits = new ArrayList<>(MAX_COMMITS_PER_PASS);
        List<Unanswered> unanswered = new ArrayList<>();
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
                            pass.stamped(a.stampMillis());
                            for (Proposal p : a.proposals()) {
                                unanswered.add(new Unanswered(p, a.index(), CommandApplier.apply(pass, p.command())));
                            }
                            if (pass.bytes() >= MAX_PASS_BYTES) {
                                makeVisible(a.index());
                            }
                        }
                        case Commit.Restore r -> {
                            // What this pass applied before is in the snapshot: answer it first, as applied.
                            settle(index, unanswered);
                            writes.snapshotInstalled();
                            restore(r);
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

    /** Loads a snapshot, then the index of what expires in it, and tells the listener. */
    private void restore(Commit.Restore r) {
        SnapshotFormat.In snapshot = new SnapshotFormat.In(r.chunks(), r.index());
        StoreMeta meta = snapshot.meta();
        List<Map.Entry<String, Long>> expiringKeys = new ArrayList<>();
        recoverFromSnapshot(r.index(), meta, entry -> snapshot.forEach((key, record) -> {
            long expiresAt = Record.expiresAt(record);
            if (expiresAt != 0) {
                expiringKeys.add(Map.entry(new String(key, StandardCharsets.UTF_8), expiresAt));
            }
            entry.accept(key, record);
        }));
        exclusively(() -> {
            visible = meta;
            expiring.clear();
            expiringKeys.forEach(e -> expiring.set(e.getKey(), e.getValue()));
        });
        pass.restored(meta);
        listener.restored(meta.revision());
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
     * marker, which follows the snapshot's entry) is stored. A marker for an index this store has left behind cannot
     * be served: the view would not be of that state.
     */
    private void viewAt(long index, Commit.Snapshot marker) {
        if (marker.index() != index) {
            throw new IllegalStateException("a snapshot at index " + marker.index() + " was asked of a store at index "
                    + index);
        }
        marker.viewOpened().accept(openView(index, visible));
        CrashPoint.SNAPSHOT_VIEW_OPEN.reached();
    }

    /** Has the engine store what the pass holds back, with {@code index}, and shows its metadata to readers. */
    private void makeVisible(long index) {
        Map<String, Record> changes = pass.takeChanges();
        StoreMeta meta = pass.meta();
        long start = System.nanoTime();
        exclusively(() -> {
            store(index, meta, changes);
            visible = meta;
            changes.forEach((key, record) -> expiring.set(key, record == null ? 0 : record.expiresAt()));
        });
        storeTimes.accept(System.nanoTime() - start);
    }

    /** Makes what this pass applied up to {@code index} visible, publishes it, then answers its clients. */
    private void settle(long index, List<Unanswered> unanswered) {
        if (index <= applied.get()) {
            return;
        }
        makeVisible(index);
        applied.advance(index);
        // Told before the clients are answered: a watch opened once a write is answered starts after it.
        List<Event> events = pass.takeEvents();
        if (!events.isEmpty()) {
            listener.applied(events);
        }
        for (Unanswered u : unanswered) {
            writes.applied(u.proposal(), u.index(), u.result());
        }
        unanswered.clear();
    }
}
