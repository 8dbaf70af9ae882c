package io.metcd.metrics;

import java.util.function.IntSupplier;

/** What the HTTP layer reports, and the scrape it serves; {@link Metrics} implements it. */
public interface HttpMetrics {
    /** An HTTP request was answered; {@code route} is the matched route pattern, never the path itself. */
    void httpRequest(String method, String route, int code, double seconds);

    /** Registers the gauge of open client connections, read when scraped; call once. */
    void watchOpenConnections(IntSupplier openConnections);

    /** Every metric of the node, in the format {@link #contentType()} names. */
    byte[] scrape();

    /** The media type of {@link #scrape()}. */
    String contentType();
}
