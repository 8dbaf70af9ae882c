package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Operation;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongConsumer;

/**
 * The replicated key-value store, as raftexample's kvstore, and the one way into it: the HTTP API, the Raft loop,
 * the node and the tests all take this interface. It proposes writes to the Raft loop on {@code proposeC}, applies
 * what the loop commits on {@code commitC}, and owns a client write's whole life: proposed, forwarded by the loop,
 * retried while it was certainly not committed, answered once applied here, or failed at the deadline.
 * <p>
 * Applying is deterministic and idempotent: after a restart MicroRaft installs the latest snapshot and applies the
 * log suffix again, so applying the same committed entries twice must yield the same state. A store whose engine
 * kept its state across the restart starts at the index it had applied and skips what is replayed at or below it.
 */
public interface KVStore extends AutoCloseable {
    /** How long a client request may wait for a leader, a commit or a read index before it is {@link Unavailable}. */
    Duration REQUEST_TIMEOUT = Duration.ofSeconds(5);

    // ------------------------------------------------------------------------------------- clients

    /**
     * Applies {@code command} through Raft, proposing it again while it was certainly not committed.
     *
     * @return what applying it came to, once it is committed and applied on this node, so that every later read here
     *         sees it: {@link Result.Applied} or {@link Result.Refused}
     * @throws Unavailable if no leader took it or it was not applied here within {@link #REQUEST_TIMEOUT}, or its
     *                     outcome is unknown: it may still be applied
     */
    Result write(Command command) throws InterruptedException;

    /**
     * The keys' records, in the order asked ({@code null} for an absent key), all from one applied state, read once
     * this node has applied what {@code level} asks for.
     *
     * @throws Unavailable if the leader did not confirm a read index, or this node did not reach it, in time
     */
    Values read(List<String> keys, ReadLevel level) throws InterruptedException;

    /**
     * Up to {@code limit} keys that start with {@code prefix} and come after {@code after} (if not {@code null}), in
     * unsigned byte order of their UTF-8 encoding, from one applied state; as {@link #read} waits.
     */
    Page range(String prefix, String after, int limit, ReadLevel level) throws InterruptedException;

    /** How many keys the store holds, and how many of them expire; as {@link #read} waits. */
    Count count(ReadLevel level) throws InterruptedException;

    /** The value this node has applied for {@code key}, or {@code null}: a local, possibly stale read that waits for nothing. */
    byte[] lookup(String key);

    /** Records read together, and the store's revision they were read at. */
    record Values(long revision, List<Record> records) {
    }

    /** A key and its record, as a range read finds them. */
    record Keyed(String key, Record record) {
    }

    /** @param more whether keys under the prefix follow the last one of this page */
    record Page(long revision, List<Keyed> keys, boolean more) {
    }

    record Count(long keys, long expiring) {
    }

    // -------------------------------------------------------------------------------------- the node

    /**
     * Starts applying {@code commitC}, on a thread of its own (the only one that changes the store), and serving
     * clients through {@code consensus}. Called once, before consensus starts: MicroRaft publishes a restored
     * snapshot as it starts.
     */
    void start(Consensus consensus);

    /** Whether the applier runs: it stops only when the store closes or fails, which stops the node. */
    boolean applying();

    /** The index of the last entry applied to this store. */
    long appliedIndex();

    /** The engine's name, as given to {@code --engine}. */
    String engine();

    /**
     * Gives the client requests that reach this node from now on {@code timeout} instead of {@link #REQUEST_TIMEOUT}
     * (a write another node forwards here keeps the deadline of the node it reached): for tests ({@code --test-faults})
     * that need a write to time out before it can possibly commit.
     *
     * @throws IllegalArgumentException unless {@code timeout} is positive and at most {@link #REQUEST_TIMEOUT}
     */
    void requestTimeout(Duration timeout);

    /** Stops the applier, fails the writes still waiting, and closes the engine. */
    @Override
    void close();

    // -------------------------------------------------------------------------------- the Raft loop

    /**
     * Completes, with the applied index, once this store has applied {@code index}; fails if the applier failed
     * first. A waiter that gave up may fail the future; it is dropped when the index is reached, or sooner once many
     * have piled up behind a stalled store.
     */
    CompletableFuture<Long> whenApplied(long index);

    /** The size of a snapshot of an empty store. */
    long emptySnapshotBytes();

    /**
     * The most applying {@code writes} can add to the size of a snapshot of this store: with the size of a snapshot
     * taken earlier, an upper bound of the size of one taken later, known before the store reaches it.
     */
    long snapshotGrowthBound(List<Operation.Proposal> writes);

    /**
     * Has {@code observer} told, in nanoseconds, how long the engine took to store each pass of the applier (readers of
     * several keys wait meanwhile, and so, once {@code commitC} is full, does the Raft thread); call before
     * {@link #start}.
     */
    void reportStoreTimes(LongConsumer observer);

    /** Where the Raft loop reports what became of the writes it took from {@code proposeC}. */
    WriteOutcomes writeOutcomes();

    // ----------------------------------------------------------------------------------------- watch

    /**
     * Tells {@code listener}, from now on, what the store applies (replacing any listener before it): first
     * {@link ChangeListener#restored} with the revision of the state it starts from, then each pass after it.
     */
    void listen(ChangeListener listener);
}
