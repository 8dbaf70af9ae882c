package io.metcd.metrics;

import java.util.Map;

/** What the peer transport already counts, read when scraped. */
public interface PeerCounters {
    /** The number of messages waiting in each peer's outbound queue, by member id. */
    Map<Integer, Integer> queueDepths();

    /** The number of outbound connections made to a peer after the first one to it. */
    long reconnects();

    /** The number of messages dropped because their peer's outbound queue was full. */
    long droppedQueueFull();

    /** The number of messages dropped because their peer could not be reached. */
    long droppedUnreachable();

    /** The number of messages dropped, in either direction, by injected faults. */
    long droppedByFaults();
}
