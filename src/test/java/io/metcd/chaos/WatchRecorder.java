package io.metcd.chaos;

import io.metcd.testkit.WatchStream;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A watch of every key kept open on one node through the nemesis, as a careful client keeps one: when the stream
 * ends (the node killed, or it cut the stream) or stays silent past three of its 10 s comments (a link down), it
 * reconnects with {@code Last-Event-ID} the last revision it was told of; a {@code 410} sends it on from the oldest
 * revision the node can serve. It records each connection, for {@link WatchChecks}.
 */
final class WatchRecorder implements AutoCloseable {
    private static final Duration SILENT_TOO_LONG = Duration.ofSeconds(25);
    private static final Duration BACK_OFF = Duration.ofMillis(100);
    private static final Pattern OLDEST = Pattern.compile("the oldest it can serve is (\\d+)");

    /**
     * What one connection delivered.
     *
     * @param askedAfter   the revision it asked to start after ({@code Last-Event-ID})
     * @param startedAfter the revision the node said it starts after, -1 if the stream broke before saying so
     * @param goneOldest   for a {@code 410}, the oldest revision the node said it could serve; else 0
     */
    record Connection(long askedAfter, long startedAfter, List<WatchStream.Change> changes, long goneOldest) {
    }

    final int node;
    private final String url;
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean closed;
    private volatile WatchStream current;
    /** What the last connection ended after. */
    private volatile long lastAfter;

    WatchRecorder(int node, String url) {
        this.node = node;
        this.url = url;
        this.thread = Thread.ofVirtual().name("chaos-watch-" + node).start(this::run);
    }

    private void run() {
        long after = 0;
        try {
            while (!closed) {
                WatchStream stream;
                try {
                    stream = WatchStream.open(url, "prefix=", "Last-Event-ID", Long.toString(after));
                } catch (UncheckedIOException e) {
                    Thread.sleep(BACK_OFF);
                    continue;
                }
                current = stream;
                if (stream.status == 410) {
                    Matcher oldest = OLDEST.matcher(stream.refusal);
                    if (!oldest.find()) {
                        throw new IllegalStateException("a 410 without the oldest revision: " + stream.refusal);
                    }
                    connections.add(new Connection(after, -1, List.of(), Long.parseLong(oldest.group(1))));
                    after = Long.parseLong(oldest.group(1)) - 1;
                    lastAfter = after;
                    continue;
                } else if (stream.status != 200) {
                    Thread.sleep(BACK_OFF);
                    continue;
                }
                while (!closed && !stream.awaitEnd(Duration.ofSeconds(1))
                        && stream.silence().compareTo(SILENT_TOO_LONG) < 0) {
                    // streaming
                }
                stream.close();
                stream.awaitEnd(Duration.ofSeconds(5));
                connections.add(new Connection(after, stream.startedAfter(), stream.changes(), 0));
                after = Math.max(after, stream.lastEventId());
                lastAfter = after;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The last revision this watch was told of, on any of its connections. */
    long lastRevision() {
        WatchStream stream = current;
        return Math.max(lastAfter, stream == null ? -1 : stream.lastEventId());
    }

    List<Connection> connections() {
        return List.copyOf(connections);
    }

    /** Closes the stream open now, once it is recorded. */
    @Override
    public void close() throws InterruptedException {
        closed = true;
        WatchStream stream = current;
        if (stream != null) {
            stream.close();
        }
        thread.join(Duration.ofSeconds(10));
    }

    /** The watch's checks over every node's connections, after the run. */
    static final class WatchChecks {
        static final int MAX_PROBLEMS = 20;

        private WatchChecks() {
        }

        /**
         * etcd's watch guarantees, as a client sees them: on each node, revisions in order, none twice, none missing
         * (but where a {@code 410} said the node no longer had them), each connection starting where it asked; on
         * every node the same key and value for one revision, and on the workload's {@code keys} a value some client
         * wrote (the nemesis writes keys of its own); up to the last revision the node applied
         * ({@code finalRevisions}) and none beyond; and every node's watch saw something. At most
         * {@link #MAX_PROBLEMS} are listed.
         */
        static List<String> problems(List<WatchRecorder> recorders, Set<String> keys, Set<String> written,
                Map<Integer, Long> finalRevisions) {
            List<String> problems = new ArrayList<>();
            Map<Long, String> byRevision = new HashMap<>();
            for (WatchRecorder r : recorders) {
                long last = -1;
                long seen = 0;
                for (Connection c : r.connections()) {
                    if (c.goneOldest() != 0 || c.startedAfter() < 0) {
                        last = c.goneOldest() != 0 ? c.goneOldest() - 1 : last;
                        continue;
                    }
                    if (c.startedAfter() != c.askedAfter()) {
                        problems.add("node " + r.node + ": asked to start after " + c.askedAfter() + ", started after "
                                + c.startedAfter());
                    }
                    if (last >= 0 && c.startedAfter() != last) {
                        problems.add("node " + r.node + ": a connection resumed after " + c.startedAfter()
                                + " where the last ended at " + last);
                    }
                    long previous = c.startedAfter();
                    for (WatchStream.Change change : c.changes()) {
                        if (change.revision() != previous + 1) {
                            problems.add("node " + r.node + ": revision " + change.revision() + " after " + previous
                                    + (change.revision() <= previous ? " (out of order or twice)" : " (a gap)"));
                        }
                        previous = change.revision();
                        seen++;
                        String what = change.key() + "=" + change.value();
                        String before = byRevision.putIfAbsent(change.revision(), what);
                        if (before != null && !before.equals(what)) {
                            problems.add("revision " + change.revision() + " is " + before + " on one node, " + what
                                    + " on node " + r.node);
                        }
                        if (keys.contains(change.key()) && !written.contains(change.value())) {
                            problems.add("node " + r.node + ": revision " + change.revision() + " has a value no one"
                                    + " wrote: " + what);
                        }
                    }
                    last = previous;
                }
                if (seen == 0) {
                    problems.add("node " + r.node + ": its watch saw no event");
                }
                long applied = finalRevisions.get(r.node);
                if (last > applied) {
                    problems.add("node " + r.node + ": its watch showed revision " + last + ", beyond the " + applied
                            + " it had applied at the end");
                } else if (last < applied) {
                    problems.add("node " + r.node + ": its watch stopped at revision " + last + ", short of the "
                            + applied + " it applied");
                }
            }
            if (problems.size() > MAX_PROBLEMS) {
                int more = problems.size() - MAX_PROBLEMS;
                problems = new ArrayList<>(problems.subList(0, MAX_PROBLEMS));
                problems.add("and " + more + " more");
            }
            return problems;
        }

        /** Connections, events and 410s per node, for the report. */
        static String summary(List<WatchRecorder> recorders) {
            StringBuilder out = new StringBuilder();
            for (WatchRecorder r : recorders) {
                List<Connection> cs = r.connections();
                out.append(" node ").append(r.node).append(": ").append(cs.size()).append(" connections, ")
                        .append(cs.stream().mapToInt(c -> c.changes().size()).sum()).append(" events, ")
                        .append(cs.stream().filter(c -> c.goneOldest() != 0).count()).append(" gone;");
            }
            return out.toString();
        }
    }
}
