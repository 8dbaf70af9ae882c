package io.metcd;

import io.metcd.kv.KVStore;
import io.metcd.kv.Record;
import io.metcd.model.Command;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;
import io.metcd.resp.Keyspace;
import io.metcd.resp.Outcome;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The store as the Redis commands see it ({@link Keyspace}): each call becomes one read or one {@link Command} on the
 * {@link KVStore}, made on a virtual thread of its own so that the event loop that asked never waits, and its outcome
 * becomes an {@link Outcome}. The store decides everything: conditions, results, and the time to live, counted from
 * the leader's stamp and ended by the leader's replicated expiry.
 */
final class RedisKeyspace implements Keyspace {
    private final KVStore store;

    RedisKeyspace(KVStore store) {
        this.store = store;
    }

    /** A blocking call to the store, on a virtual thread; the store's deadline bounds it. */
    interface StoreCall<T> {
        Outcome<T> call() throws InterruptedException;
    }

    /** Runs {@code call} off the event loop; a store without a leader or quorum in time is {@link Outcome.Unavailable}. */
    static <T> CompletableFuture<Outcome<T>> async(StoreCall<T> call) {
        CompletableFuture<Outcome<T>> outcome = new CompletableFuture<>();
        Thread.ofVirtual().name("redis-call").start(() -> {
            try {
                outcome.complete(call.call());
            } catch (Unavailable e) {
                outcome.complete(Outcome.unavailable(e.getMessage()));
            } catch (InterruptedException e) {
                outcome.complete(Outcome.unavailable("the node is stopping"));
            } catch (RuntimeException | Error e) {
                outcome.completeExceptionally(e);
            }
        });
        return outcome;
    }

    /** Redis's levels are the HTTP API's of the same names (the type of that name here is {@link Keyspace}'s). */
    private static io.metcd.kv.ReadLevel level(ReadLevel level) {
        return level == ReadLevel.STALE ? io.metcd.kv.ReadLevel.STALE : io.metcd.kv.ReadLevel.DEFAULT;
    }

    @Override
    public CompletableFuture<Outcome<List<Entry>>> read(List<String> keys, ReadLevel level) {
        return async(() -> {
            List<Record> records = store.read(keys, level(level)).records();
            long now = System.currentTimeMillis();
            List<Entry> entries = new ArrayList<>(records.size());
            for (Record r : records) {
                entries.add(r == null ? null
                        : new Entry(r.value(), r.expires() ? r.millisLeft(now) : Entry.NO_EXPIRY));
            }
            return Outcome.done(entries);
        });
    }

    @Override
    public CompletableFuture<Outcome<KeyCount>> count(ReadLevel level) {
        return async(() -> {
            KVStore.Count count = store.count(level(level));
            return Outcome.done(new KeyCount(count.keys(), count.expiring()));
        });
    }

    @Override
    public CompletableFuture<Outcome<KeyPage>> keys(String prefix, String after, int limit, ReadLevel level) {
        return async(() -> {
            KVStore.Page page = store.range(prefix, after, limit, level(level));
            return Outcome.done(new KeyPage(page.keys().stream().map(KVStore.Keyed::key).toList(), page.more()));
        });
    }

    @Override
    public CompletableFuture<Outcome<SetResult>> set(String key, byte[] value, SetOptions options) {
        Command.Condition condition = switch (options.condition()) {
            case ALWAYS -> Command.Condition.NONE;
            case IF_ABSENT -> Command.Condition.ABSENT;
            case IF_PRESENT -> Command.Condition.PRESENT;
        };
        Command.Expiry expiry = switch (options.expiry()) {
            case Expiry.None none -> Command.Expiry.NONE;
            case Expiry.Keep keep -> Command.Expiry.KEEP;
            case Expiry.After after -> Command.Expiry.after(after.millis());
        };
        Command.Put put = new Command.Put(key, value, condition, expiry, options.returnPrevious());
        return async(() -> {
            Result result = store.write(put);
            return Outcome.done(new SetResult(result instanceof Result.Applied, result.previous()));
        });
    }

    @Override
    public CompletableFuture<Outcome<Void>> setAll(Map<String, byte[]> values) {
        List<Command.KeyValue> pairs = new ArrayList<>(values.size());
        values.forEach((key, value) -> pairs.add(new Command.KeyValue(key, value)));
        return write(new Command.PutAll(pairs), applied -> null);
    }

    @Override
    public CompletableFuture<Outcome<Long>> delete(List<String> keys) {
        return write(new Command.Delete(keys, Command.Condition.NONE), Result.Applied::number);
    }

    @Override
    public CompletableFuture<Outcome<Long>> increment(String key, long delta) {
        return write(new Command.Increment(key, delta), Result.Applied::number);
    }

    @Override
    public CompletableFuture<Outcome<Long>> append(String key, byte[] suffix) {
        return write(new Command.Append(key, suffix), Result.Applied::number);
    }

    @Override
    public CompletableFuture<Outcome<Boolean>> expire(String key, long millis) {
        return write(new Command.Expire(key, millis), applied -> applied.number() == 1);
    }

    @Override
    public CompletableFuture<Outcome<Boolean>> persist(String key) {
        return write(new Command.Persist(key), applied -> applied.number() == 1);
    }

    private interface Done<T> {
        T of(Result.Applied applied);
    }

    /** Writes {@code command}: done with what {@code done} takes from its result, or refused as the store refused it. */
    private <T> CompletableFuture<Outcome<T>> write(Command command, Done<T> done) {
        return async(() -> switch (store.write(command)) {
            case Result.Applied applied -> Outcome.done(done.of(applied));
            case Result.Refused refused -> Outcome.refused(switch (refused.refusal()) {
                case NOT_AN_INTEGER -> Outcome.Refusal.NOT_AN_INTEGER;
                case OVERFLOW -> Outcome.Refusal.OVERFLOW;
                case TOO_LARGE -> Outcome.Refusal.TOO_LARGE;
                case PRECONDITION_FAILED -> throw new IllegalStateException(command + " has no condition to fail");
            }, null);
        });
    }
}
