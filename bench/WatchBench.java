// The benchmark's watch cases (scripts/bench.sh): WATCHERS watchers of one prefix on one node while writers PUT keys
// under it to the leader at RATE per second for SECONDS; prints, as one RESULT line, the delay from each PUT's
// acknowledgement to its event at the watchers (p50_ms, p99_ms), the PUTs acknowledged per second (ops_s), failed
// PUTs (err_status) and the events due that never came (err_read). With RATE 0 it writes nothing: it opens the
// watchers of PREFIX, prints WATCHING, holds them SECONDS while another load writes, and reports the events that came.
//
//   java bench/WatchBench.java API WATCH_URL PUT_URL WATCHERS RATE SECONDS [PREFIX]
//
// API kv (metcd: GET /-/watch?prefix=, Server-Sent Events; PUT /key) or etcd (its v3 JSON gateway: POST /v3/watch,
// one JSON object per line; POST /v3/kv/put). An event's revision (metcd's id: line, etcd's mod_revision) names the
// PUT it comes of, whose answer gave that revision (metcd's X-Revision, etcd's header.revision). An event that comes
// before its PUT's answer counts as no delay. The delays of the first SAMPLED watchers are kept (every event of the
// others is counted), so that the client's memory stays bounded. Everything runs on virtual threads, and is bounded
// in time: SECONDS of writes, then at most DRAIN_S for the last events.
//
// Run by the JDK's source launcher: no build step, no dependency.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class WatchBench {
    static final int WRITERS = 64;
    static final int SAMPLED = 100;
    static final int KEYS = 1000;
    static final Duration DRAIN = Duration.ofSeconds(Integer.parseInt(System.getenv().getOrDefault("DRAIN_S", "10")));
    static final Pattern ETCD_REVISION = Pattern.compile("\"mod_revision\":\"(\\d+)\"");
    static final Pattern ETCD_HEADER_REVISION = Pattern.compile("\"revision\":\"(\\d+)\"");
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    final String api;
    final String watchUrl;
    final String putUrl;
    final String prefix;
    /** Each acknowledged PUT's revision and when its answer came (System.nanoTime). */
    final ConcurrentHashMap<Long, Long> acked = new ConcurrentHashMap<>();
    final AtomicLong delivered = new AtomicLong();
    final AtomicLong failedPuts = new AtomicLong();

    WatchBench(String api, String watchUrl, String putUrl, String prefix) {
        this.api = api;
        this.watchUrl = watchUrl;
        this.putUrl = putUrl;
        this.prefix = prefix;
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 6 || args.length > 7 || !List.of("kv", "etcd").contains(args[0])) {
            System.err.println("usage: java bench/WatchBench.java kv|etcd WATCH_URL PUT_URL WATCHERS RATE SECONDS [PREFIX]");
            System.exit(2);
        }
        int watchers = Integer.parseInt(args[3]);
        int rate = Integer.parseInt(args[4]);
        int seconds = Integer.parseInt(args[5]);
        new WatchBench(args[0], args[1], args[2], args.length == 7 ? args[6] : "bench-watch/").run(watchers, rate,
                seconds);
    }

    /** One watcher: its connection, and the revisions it was told of with when (for a sampled one). */
    final class Watcher {
        final boolean sampled;
        final CountDownLatch started = new CountDownLatch(1);
        long[] revisions = new long[1024];
        long[] arrivals = new long[1024];
        int events;
        volatile InputStream body;

        Watcher(boolean sampled) {
            this.sampled = sampled;
        }

        void run() {
            try {
                HttpResponse<InputStream> response = HTTP.send(watchRequest(), HttpResponse.BodyHandlers.ofInputStream());
                if (response.statusCode() != 200) {
                    throw new IOException("watch answered " + response.statusCode());
                }
                body = response.body();
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
                    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                        long now = System.nanoTime();
                        if (api.equals("kv")) {
                            if (line.startsWith(": watching")) {
                                started.countDown();
                            } else if (line.startsWith("id: ")) {
                                told(Long.parseLong(line.substring(4)), now);
                            }
                        } else {
                            if (line.contains("\"created\":true")) {
                                started.countDown();
                            }
                            Matcher m = ETCD_REVISION.matcher(line);
                            while (m.find()) {
                                told(Long.parseLong(m.group(1)), now);
                            }
                        }
                    }
                }
            } catch (IOException | InterruptedException e) {
                // closed at the end, or the node went away: what came is counted
            } finally {
                started.countDown();
            }
        }

        void told(long revision, long now) {
            delivered.incrementAndGet();
            if (!sampled) {
                return;
            }
            if (events == revisions.length) {
                revisions = Arrays.copyOf(revisions, events * 2);
                arrivals = Arrays.copyOf(arrivals, events * 2);
            }
            revisions[events] = revision;
            arrivals[events++] = now;
        }

        void close() {
            try {
                InputStream b = body;
                if (b != null) {
                    b.close();
                }
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    HttpRequest watchRequest() {
        if (api.equals("kv")) {
            return HttpRequest.newBuilder(URI.create(watchUrl + "/-/watch?prefix=" + prefix)).GET().build();
        }
        String range = "{\"create_request\":{\"key\":\"" + base64(prefix) + "\",\"range_end\":\""
                + base64(prefix.substring(0, prefix.length() - 1) + (char) (prefix.charAt(prefix.length() - 1) + 1))
                + "\"}}";
        return HttpRequest.newBuilder(URI.create(watchUrl + "/v3/watch"))
                .POST(HttpRequest.BodyPublishers.ofString(range)).build();
    }

    static String base64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** PUTs the i-th key; its revision on success. */
    long put(long i) throws IOException, InterruptedException {
        String key = prefix + "k" + (i % KEYS);
        String value = "v" + i;
        HttpRequest request = api.equals("kv")
                ? HttpRequest.newBuilder(URI.create(putUrl + "/" + key)).timeout(Duration.ofSeconds(10))
                        .PUT(HttpRequest.BodyPublishers.ofString(value)).build()
                : HttpRequest.newBuilder(URI.create(putUrl + "/v3/kv/put")).timeout(Duration.ofSeconds(10))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"" + base64(key) + "\",\"value\":\""
                                + base64(value) + "\"}")).build();
        HttpResponse<String> answer = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (api.equals("kv")) {
            return answer.statusCode() == 204 ? Long.parseLong(answer.headers().firstValue("X-Revision").orElse("-1")) : -1;
        }
        Matcher m = ETCD_HEADER_REVISION.matcher(answer.body());
        return answer.statusCode() == 200 && m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    void run(int watcherCount, int rate, int seconds) throws Exception {
        List<Watcher> watchers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < watcherCount; w++) {
            Watcher watcher = new Watcher(rate > 0 && w < SAMPLED);
            watchers.add(watcher);
            threads.add(Thread.ofVirtual().start(watcher::run));
        }
        for (Watcher w : watchers) {
            if (!w.started.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("a watcher did not start within 30 s");
            }
        }
        if (rate == 0) {
            hold(watchers, threads, seconds);
            return;
        }
        long total = (long) rate * seconds;
        long start = System.nanoTime();
        AtomicLong next = new AtomicLong();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < WRITERS; t++) {
            writers.add(Thread.ofVirtual().start(() -> {
                for (long i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
                    long due = start + i * 1_000_000_000L / rate;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        LockSupport.parkNanos(wait);
                    }
                    try {
                        long revision = put(i);
                        if (revision > 0) {
                            acked.put(revision, System.nanoTime());
                        } else {
                            failedPuts.incrementAndGet();
                        }
                    } catch (IOException | InterruptedException e) {
                        failedPuts.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : writers) {
            t.join(Duration.ofSeconds(seconds + 60L));
        }
        double putSeconds = (System.nanoTime() - start) / 1e9;
        long due = (long) acked.size() * watcherCount;
        long drainEnd = System.nanoTime() + DRAIN.toNanos();
        while (delivered.get() < due && System.nanoTime() < drainEnd) {
            LockSupport.parkNanos(50_000_000L);
        }
        watchers.forEach(Watcher::close);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(5));
        }

        long[] delays = new long[watchers.stream().filter(w -> w.sampled).mapToInt(w -> w.events).sum()];
        int n = 0;
        for (Watcher w : watchers) {
            for (int e = 0; e < w.events; e++) {
                Long ack = acked.get(w.revisions[e]);
                if (ack != null) {
                    delays[n++] = Math.max(0, w.arrivals[e] - ack);
                }
            }
        }
        delays = Arrays.copyOf(delays, n);
        Arrays.sort(delays);
        System.out.printf("RESULT api=%s watchers=%d rate=%d puts_ok=%d ops_s=%.0f events=%d due=%d"
                        + " p50_ms=%.2f p99_ms=%.2f max_ms=%.2f err_status=%d err_read=%d%n",
                api, watcherCount, rate, acked.size(), acked.size() / putSeconds, delivered.get(), due,
                percentile(delays, 0.50), percentile(delays, 0.99), percentile(delays, 1.0), failedPuts.get(),
                Math.max(0, due - delivered.get()));
    }

    /** Holds the watchers open while another load writes, then reports what they were told. */
    void hold(List<Watcher> watchers, List<Thread> threads, int seconds) throws InterruptedException {
        System.out.println("WATCHING");
        System.out.flush();
        long start = System.nanoTime();
        Thread.sleep(Duration.ofSeconds(seconds));
        watchers.forEach(Watcher::close);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(5));
        }
        double held = (System.nanoTime() - start) / 1e9;
        System.out.printf("HELD api=%s watchers=%d seconds=%.0f events=%d events_s=%.0f%n", api, watchers.size(), held,
                delivered.get(), delivered.get() / held);
    }

    static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e6;
    }
}
