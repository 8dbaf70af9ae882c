package io.metcd.testkit;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import java.util.function.IntSupplier;

/**
 * A background client that PUTs unique keys, one after another, to whichever node {@code target} names,
 * and remembers which writes were acknowledged (204) and the longest time between two acknowledgements.
 * Bounded by {@code maxWrites} and by {@link #close()}.
 */
public final class WriteLoad implements AutoCloseable {
    private final Map<String, String> acknowledged = new ConcurrentHashMap<>();
    private final AtomicLong longestGapNanos = new AtomicLong();
    private final Thread writer;
    private volatile boolean stopped;

    public WriteLoad(String prefix, int maxWrites, IntSupplier target, IntFunction<KvClient> clients) {
        this(prefix, maxWrites, 0, target, clients);
    }

    /** @param padBytes how much longer than its short unique prefix each value is, to fill a disk sooner */
    public WriteLoad(String prefix, int maxWrites, int padBytes, IntSupplier target, IntFunction<KvClient> clients) {
        String pad = "x".repeat(padBytes);
        writer = Thread.ofVirtual().name("write-load").start(() -> {
            long lastAck = System.nanoTime();
            for (int i = 0; i < maxWrites && !stopped; i++) {
                String key = prefix + i;
                String value = "v" + i + pad;
                try {
                    if (clients.apply(target.getAsInt()).put(key, value).status() == 204) {
                        acknowledged.put(key, value);
                        long now = System.nanoTime();
                        longestGapNanos.accumulateAndGet(now - lastAck, Math::max);
                        lastAck = now;
                    }
                } catch (RuntimeException e) {
                    // A node going away mid-request: the outcome is unknown, and only acknowledged writes count.
                }
            }
        });
    }

    /** Waits until at least {@code count} writes were acknowledged. */
    public void awaitAcknowledged(int count) {
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.size() >= count);
    }

    public Map<String, String> acknowledged() {
        return Map.copyOf(acknowledged);
    }

    public Duration longestGapBetweenAcknowledgements() {
        return Duration.ofNanos(longestGapNanos.get());
    }

    /** Every acknowledged write whose key {@code read} answers with another value (or not at all). */
    public List<String> lost(IntFunction<KvClient> clients, int node) {
        KvClient client = clients.apply(node);
        return acknowledged.entrySet().stream()
                .filter(e -> !e.getValue().equals(client.get(e.getKey() + "?level=consistent").body()))
                .map(Map.Entry::getKey).sorted().toList();
    }

    @Override
    public void close() {
        stopped = true;
        try {
            writer.join(Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
