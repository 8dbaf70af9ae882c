package io.metcd.transport;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/**
 * Faults injected on the links between this node and its peers, for tests and {@code make chaos}: a
 * partition, lost messages, delayed messages. A fault set for a peer applies to the traffic in both
 * directions as this node sees it (what it sends to the peer and what it reads from it), so faulting one
 * side of a link is enough; no connection is closed, messages just vanish or arrive late, as on a bad network.
 * <p>
 * Nothing is faulted unless a test or the {@code --test-faults} admin API sets it.
 */
public final class NetworkFaults {

    /**
     * What happens to the messages on one link.
     *
     * @param lossRate the probability, from 0 to 1, that a message is dropped; 1 is a partition
     * @param delay    how long every message that is not dropped is held before it goes on
     */
    public record Link(double lossRate, Duration delay) {
        public static final Link PARTITIONED = new Link(1, Duration.ZERO);

        public Link {
            Objects.requireNonNull(delay);
            if (!(lossRate >= 0 && lossRate <= 1)) {
                throw new IllegalArgumentException("loss rate must be between 0 and 1, not " + lossRate);
            }
            if (delay.isNegative()) {
                throw new IllegalArgumentException("delay must not be negative, not " + delay);
            }
        }

        boolean isPartitioned() {
            return lossRate >= 1;
        }
    }

    private final ConcurrentMap<Integer, Link> links = new ConcurrentHashMap<>();
    private final ConcurrentMap<Integer, Predicate<Object>> dropped = new ConcurrentHashMap<>();

    /** Faults the link with member {@code peerId} as {@code link} says, replacing what was set before. */
    public void set(int peerId, Link link) {
        links.put(peerId, Objects.requireNonNull(link));
    }

    /**
     * Drops the messages that {@code which} matches (MicroRaft's or metcd's own), on the link with member
     * {@code peerId}, besides what its {@link Link} loses: a test's way to lose one kind of message only.
     * Replaces what was set before for that link.
     */
    public void drop(int peerId, Predicate<Object> which) {
        dropped.put(peerId, Objects.requireNonNull(which));
    }

    /** Makes the link with member {@code peerId} healthy again. */
    public void heal(int peerId) {
        links.remove(peerId);
        dropped.remove(peerId);
    }

    /** Makes every link healthy again. */
    public void healAll() {
        links.clear();
        dropped.clear();
    }

    /** The faulted links, by peer id. */
    public Map<Integer, Link> links() {
        return new TreeMap<>(links);
    }

    boolean isPartitioned(int peerId) {
        Link link = links.get(peerId);
        return link != null && link.isPartitioned();
    }

    /** Decides the fate of {@code message} on the link with {@code peerId}: true if it is lost. */
    boolean loses(int peerId, Object message) {
        Link link = links.get(peerId);
        Predicate<Object> which = dropped.get(peerId);
        return link != null && (link.isPartitioned() || ThreadLocalRandom.current().nextDouble() < link.lossRate())
                || which != null && which.test(message);
    }

    /** How long a message on the link with {@code peerId} is held back. */
    Duration delay(int peerId) {
        Link link = links.get(peerId);
        return link == null ? Duration.ZERO : link.delay();
    }
}
