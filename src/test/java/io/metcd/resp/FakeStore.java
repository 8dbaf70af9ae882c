package io.metcd.resp;

import io.metcd.model.Decimal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * An in-memory {@link Keyspace} and {@link ClusterAdmin} that keeps their contracts the simplest way: one map under one
 * lock, expiry by this JVM's clock. Each operation is carried out when its future completes, on another thread, after
 * a random delay of up to {@link #maxDelayMillis} (so that futures complete out of order); {@link #leaderless}
 * answers every operation as a node without a leader would. It counts the operations in flight, which shows whether
 * a client's pipelined writes reached the store together.
 */
final class FakeStore implements Keyspace, ClusterAdmin, AutoCloseable {
    static final Comparator<String> BYTE_ORDER = (a, b) -> Arrays.compareUnsigned(
            a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

    private record Stored(byte[] value, long deadlineMillis) { // deadline 0: permanent
    }

    private final TreeMap<String, Stored> data = new TreeMap<>(BYTE_ORDER);
    private final TreeMap<Integer, ClusterAdmin.Member> members = new TreeMap<>();
    private final ScheduledExecutorService completer = Executors.newScheduledThreadPool(4);
    private long snapshots;

    volatile int maxDelayMillis;
    volatile boolean leaderless;
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger mostInFlight = new AtomicInteger();
    /** The read level of every read, in the order they were made. */
    final ConcurrentLinkedQueue<ReadLevel> readLevels = new ConcurrentLinkedQueue<>();

    FakeStore() {
        members.put(1, new ClusterAdmin.Member(1, "http://127.0.0.1:13379", "http://127.0.0.1:3379", "leader"));
    }

    /** Carries {@code operation} out later, under the lock, unless there is no leader. */
    private <T> CompletableFuture<Outcome<T>> later(Supplier<Outcome<T>> operation) {
        mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
        CompletableFuture<Outcome<T>> result = new CompletableFuture<>();
        int delay = maxDelayMillis;
        completer.schedule(() -> {
            Outcome<T> outcome;
            if (leaderless) {
                outcome = Outcome.unavailable("no leader");
            } else {
                synchronized (this) {
                    outcome = operation.get();
                }
            }
            inFlight.decrementAndGet();
            result.complete(outcome);
        }, delay == 0 ? 0 : ThreadLocalRandom.current().nextInt(delay + 1), TimeUnit.MILLISECONDS);
        return result;
    }

    private Stored live(String key) {
        Stored stored = data.get(key);
        if (stored != null && stored.deadlineMillis != 0 && stored.deadlineMillis <= System.currentTimeMillis()) {
            data.remove(key);
            return null;
        }
        return stored;
    }

    private static long deadline(long millis) {
        return System.currentTimeMillis() + millis;
    }

    @Override
    public CompletableFuture<Outcome<List<Entry>>> read(List<String> keys, ReadLevel level) {
        readLevels.add(level);
        return later(() -> {
            List<Entry> entries = new ArrayList<>();
            for (String key : keys) {
                Stored s = live(key);
                entries.add(s == null ? null : new Entry(s.value, s.deadlineMillis == 0 ? Entry.NO_EXPIRY
                        : Math.max(0, s.deadlineMillis - System.currentTimeMillis())));
            }
            return Outcome.done(entries);
        });
    }

    @Override
    public CompletableFuture<Outcome<KeyCount>> count(ReadLevel level) {
        readLevels.add(level);
        return later(() -> {
            List.copyOf(data.keySet()).forEach(this::live);
            return Outcome.done(new KeyCount(data.size(),
                    data.values().stream().filter(s -> s.deadlineMillis != 0).count()));
        });
    }

    @Override
    public CompletableFuture<Outcome<KeyPage>> keys(String prefix, String after, int limit, ReadLevel level) {
        readLevels.add(level);
        return later(() -> {
            List<String> keys = new ArrayList<>();
            Map<String, Stored> tail = after == null ? data.tailMap(prefix, true) : data.tailMap(after, false);
            for (String key : List.copyOf(tail.keySet())) {
                if (!key.startsWith(prefix) && BYTE_ORDER.compare(key, prefix) > 0) {
                    break;
                }
                if (!key.startsWith(prefix) || live(key) == null) {
                    continue;
                }
                if (keys.size() == limit) {
                    return Outcome.done(new KeyPage(keys, true));
                }
                keys.add(key);
            }
            return Outcome.done(new KeyPage(keys, false));
        });
    }

    @Override
    public CompletableFuture<Outcome<SetResult>> set(String key, byte[] value, SetOptions options) {
        return later(() -> {
            Stored before = live(key);
            boolean write = switch (options.condition()) {
                case ALWAYS -> true;
                case IF_ABSENT -> before == null;
                case IF_PRESENT -> before != null;
            };
            if (write) {
                long deadline = switch (options.expiry()) {
                    case Expiry.None none -> 0;
                    case Expiry.Keep keep -> before == null ? 0 : before.deadlineMillis;
                    case Expiry.After after -> deadline(after.millis());
                };
                data.put(key, new Stored(value, deadline));
            }
            return Outcome.done(new SetResult(write, options.returnPrevious() && before != null ? before.value : null));
        });
    }

    @Override
    public CompletableFuture<Outcome<Void>> setAll(Map<String, byte[]> values) {
        return later(() -> {
            values.forEach((k, v) -> data.put(k, new Stored(v, 0)));
            return Outcome.done(null);
        });
    }

    @Override
    public CompletableFuture<Outcome<Long>> delete(List<String> keys) {
        return later(() -> Outcome.done(keys.stream().filter(k -> live(k) != null && data.remove(k) != null).count()));
    }

    @Override
    public CompletableFuture<Outcome<Long>> increment(String key, long delta) {
        return later(() -> {
            Stored before = live(key);
            Long current = before == null ? Long.valueOf(0) : Decimal.parse(before.value);
            if (current == null) {
                return Outcome.refused(Outcome.Refusal.NOT_AN_INTEGER, null);
            }
            long sum;
            try {
                sum = Math.addExact(current, delta);
            } catch (ArithmeticException e) {
                return Outcome.refused(Outcome.Refusal.OVERFLOW, null);
            }
            data.put(key, new Stored(Long.toString(sum).getBytes(StandardCharsets.UTF_8),
                    before == null ? 0 : before.deadlineMillis));
            return Outcome.done(sum);
        });
    }

    @Override
    public CompletableFuture<Outcome<Long>> append(String key, byte[] suffix) {
        return later(() -> {
            Stored before = live(key);
            byte[] old = before == null ? new byte[0] : before.value;
            if (old.length + suffix.length > CommandAssembler.MAX_VALUE_BYTES) {
                return Outcome.refused(Outcome.Refusal.TOO_LARGE, null);
            }
            byte[] joined = Arrays.copyOf(old, old.length + suffix.length);
            System.arraycopy(suffix, 0, joined, old.length, suffix.length);
            data.put(key, new Stored(joined, before == null ? 0 : before.deadlineMillis));
            return Outcome.done((long) joined.length);
        });
    }

    @Override
    public CompletableFuture<Outcome<Boolean>> expire(String key, long millis) {
        return later(() -> {
            Stored before = live(key);
            if (before == null) {
                return Outcome.done(false);
            } else if (millis <= 0) {
                data.remove(key);
            } else {
                data.put(key, new Stored(before.value, deadline(millis)));
            }
            return Outcome.done(true);
        });
    }

    @Override
    public CompletableFuture<Outcome<Boolean>> persist(String key) {
        return later(() -> {
            Stored before = live(key);
            if (before == null || before.deadlineMillis == 0) {
                return Outcome.done(false);
            }
            data.put(key, new Stored(before.value, 0));
            return Outcome.done(true);
        });
    }

    @Override
    public synchronized CompletableFuture<Status> status() {
        return CompletableFuture.completedFuture(new Status(1, "leader", 3, 1, List.copyOf(members.values()), "map",
                42));
    }

    @Override
    public CompletableFuture<Outcome<Void>> addMember(int id, String peerUrl) {
        return later(() -> {
            if (members.containsKey(id)) {
                return Outcome.refused(Outcome.Refusal.INVALID, "member " + id + " already exists");
            }
            members.put(id, new ClusterAdmin.Member(id, peerUrl, null, "learner"));
            return Outcome.done(null);
        });
    }

    @Override
    public CompletableFuture<Outcome<Void>> removeMember(int id) {
        return later(() -> members.remove(id) == null
                ? Outcome.refused(Outcome.Refusal.INVALID, "no member " + id)
                : Outcome.done(null));
    }

    @Override
    public CompletableFuture<Outcome<Long>> snapshot() {
        return later(() -> Outcome.done(++snapshots * 100));
    }

    @Override
    public void close() {
        completer.shutdownNow();
    }
}
