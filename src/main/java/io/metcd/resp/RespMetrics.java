package io.metcd.resp;

/**
 * Where the Redis protocol layer reports what it does; the node's metrics registry implements it. Called on network
 * event loops: implementations only count (an uncontended add), never block.
 */
public interface RespMetrics {

    /** How a command was answered. */
    enum Result {
        /** Anything but an error reply (a nil or a 0 included). */
        OK,
        /** An error reply the client caused: unknown command, wrong arguments, a value that is not an integer... */
        ERROR,
        /** {@code -TRYAGAIN}: no leader, quorum or commit in time. */
        TRYAGAIN
    }

    /**
     * A command was answered.
     *
     * @param command its name in lower case as the command table has it ({@code "set"}, {@code "client"}), or
     *                {@code "unknown"} for any other name a client sends, so that labels stay few
     * @param seconds from its arrival to its reply being written
     */
    void answered(String command, Result result, double seconds);

    /** A client connected. */
    void connectionOpened();

    /** A client's connection closed, by either side. */
    void connectionClosed();

    /** Counts nothing: for tests and nodes that keep no metrics. */
    RespMetrics NONE = new RespMetrics() {
        @Override
        public void answered(String command, Result result, double seconds) {
        }

        @Override
        public void connectionOpened() {
        }

        @Override
        public void connectionClosed() {
        }
    };
}
