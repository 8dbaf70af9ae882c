package io.metcd.watch;

import io.metcd.kv.Event;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** The hub's promises to a watcher: in order, whole revisions, none missing, none twice, or told why not. */
class WatchHubTest {
    private static final Duration NO_WAIT = Duration.ZERO;
    private static final long ANY_SIZE = Long.MAX_VALUE;
    private final WatchHub hub = new WatchHub(WatchHub.DEFAULT_HISTORY_BYTES);

    private static Event put(long revision, String key, String value) {
        return new Event(revision, key, value.getBytes(StandardCharsets.UTF_8));
    }

    private static Event delete(long revision, String key) {
        return new Event(revision, key, null);
    }

    private Watcher watchAll(long after) throws Watches.Gone {
        return hub.watch(new Filter.Prefix(""), OptionalLong.of(after));
    }

    private static List<String> described(List<Event> events) {
        return events.stream().map(e -> e.revision() + " " + e.key()
                + (e.isDelete() ? " deleted" : "=" + new String(e.value(), StandardCharsets.UTF_8))).toList();
    }

    private static List<Long> revisions(List<Event> events) {
        return events.stream().map(Event::revision).toList();
    }

    @Test
    void aWatcherGetsEveryEventAfterItsRevisionInOrder() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1"), put(2, "b", "2"), delete(2, "c")));
        hub.applied(List.of(delete(3, "a")));
        Watcher w = watchAll(0);
        assertThat(described(w.next(NO_WAIT, ANY_SIZE))).containsExactly("1 a=1", "2 b=2", "2 c deleted",
                "3 a deleted");
        assertThat(w.next(NO_WAIT, ANY_SIZE)).isEmpty();
        assertThat(w.position()).isEqualTo(3);
    }

    @Test
    void aBatchEndsOnlyBetweenRevisions() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1"), put(2, "a", "2"), put(2, "b", "2"), put(2, "c", "2"), put(3, "a", "3")));
        Watcher w = watchAll(1);
        // Room for one event: the batch still carries the whole of revision 2, and nothing of 3.
        assertThat(revisions(w.next(NO_WAIT, 1))).containsExactly(2L, 2L, 2L);
        assertThat(revisions(w.next(NO_WAIT, 1))).containsExactly(3L);
    }

    @Test
    void aWatchResumesJustAfterTheRevisionGiven() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1"), put(2, "a", "2"), put(3, "a", "3")));
        assertThat(revisions(watchAll(2).next(NO_WAIT, ANY_SIZE))).containsExactly(3L);
    }

    @Test
    void withoutARevisionAWatchStartsAfterTheLastApplied() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1")));
        Watcher w = hub.watch(new Filter.Prefix(""), OptionalLong.empty());
        assertThat(w.position()).isEqualTo(1);
        hub.applied(List.of(put(2, "a", "2")));
        assertThat(revisions(w.next(NO_WAIT, ANY_SIZE))).containsExactly(2L);
    }

    @Test
    void aKeyWatcherSeesThatKeyOnlyAndAPrefixWatcherTheKeysUnderIt() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "config", "1"), put(2, "config/a", "2"), put(3, "con", "3"),
                put(4, "other", "4"), delete(5, "config")));
        assertThat(revisions(hub.watch(new Filter.Key("config"), OptionalLong.of(0)).next(NO_WAIT, ANY_SIZE)))
                .containsExactly(1L, 5L);
        assertThat(revisions(hub.watch(new Filter.Prefix("config"), OptionalLong.of(0)).next(NO_WAIT, ANY_SIZE)))
                .containsExactly(1L, 2L, 5L);
    }

    @Test
    void aWaitingWatcherIsWokenByAnEventItMatchesAndPassesOverTheOthers() throws Exception {
        hub.restored(0);
        Watcher w = hub.watch(new Filter.Prefix("config/"), OptionalLong.of(0));
        try (ExecutorService thread = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<List<Event>> next = waiting(w, thread);
            hub.applied(List.of(put(1, "other", "1")));
            await().until(() -> w.position() == 1);
            assertThat(next).isNotDone();
            hub.applied(List.of(put(2, "config/a", "2")));
            assertThat(revisions(next.get())).containsExactly(2L);
        }
    }

    @Test
    void aWatcherWithNothingToReadReturnsEmptyOnceItsWaitIsOver() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "other", "1")));
        Watcher w = hub.watch(new Filter.Key("config"), OptionalLong.of(0));
        assertThat(w.next(Duration.ofMillis(50), ANY_SIZE)).isEmpty();
        assertThat(w.position()).isEqualTo(1);
    }

    @Test
    void aWatcherOfARevisionToComeWaitsForIt() throws Exception {
        hub.restored(0);
        Watcher w = watchAll(2);
        hub.applied(List.of(put(1, "a", "1"), put(2, "a", "2")));
        assertThat(w.next(NO_WAIT, ANY_SIZE)).isEmpty();
        hub.applied(List.of(put(3, "a", "3")));
        assertThat(revisions(w.next(NO_WAIT, ANY_SIZE))).containsExactly(3L);
    }

    @Test
    void revisionsOlderThanTheHistoryAreGoneWithTheOldestItCanServe() throws Exception {
        WatchHub small = new WatchHub(3 * History.EVENT_OVERHEAD_BYTES);
        small.restored(0);
        for (long r = 1; r <= 5; r++) {
            small.applied(List.of(delete(r, "")));
        }
        assertThatThrownBy(() -> small.watch(new Filter.Prefix(""), OptionalLong.of(1)))
                .isInstanceOfSatisfying(Watches.Gone.class, e -> assertThat(e.oldest()).isEqualTo(3));
        assertThat(revisions(small.watch(new Filter.Prefix(""), OptionalLong.of(2)).next(NO_WAIT, ANY_SIZE)))
                .containsExactly(3L, 4L, 5L);
    }

    @Test
    void theNewestRevisionStaysHoweverLarge() throws Exception {
        WatchHub small = new WatchHub(History.EVENT_OVERHEAD_BYTES);
        small.restored(0);
        small.applied(List.of(put(1, "a", "x".repeat(1000)), put(1, "b", "y".repeat(1000))));
        assertThat(small.watch(new Filter.Prefix(""), OptionalLong.of(0)).next(NO_WAIT, ANY_SIZE)).hasSize(2);
    }

    @Test
    void aWatcherTheHistoryLeftBehindIsToldWhereItStoppedInsteadOfMissingRevisions() throws Exception {
        WatchHub small = new WatchHub(3 * History.EVENT_OVERHEAD_BYTES);
        small.restored(0);
        small.applied(List.of(delete(1, ""), delete(2, "")));
        Watcher slow = small.watch(new Filter.Prefix(""), OptionalLong.of(0));
        assertThat(revisions(slow.next(NO_WAIT, 1))).containsExactly(1L);
        for (long r = 3; r <= 6; r++) {
            small.applied(List.of(delete(r, "")));
        }
        assertThatThrownBy(() -> slow.next(NO_WAIT, ANY_SIZE)).isInstanceOfSatisfying(Watcher.Behind.class, e -> {
            assertThat(e.position()).isEqualTo(1);
            assertThat(e.oldest()).isEqualTo(4);
        });
    }

    @Test
    void afterARestoreOlderRevisionsAreGoneAndAWatcherWaitingBeforeItIsToldSo() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1")));
        Watcher waiting = watchAll(1);
        try (ExecutorService thread = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<List<Event>> next = waiting(waiting, thread);
            hub.restored(10);
            assertThat(next).failsWithin(Duration.ofSeconds(10)).withThrowableThat()
                    .havingRootCause().isInstanceOf(Watcher.Behind.class);
        }
        assertThatThrownBy(() -> watchAll(9)).isInstanceOfSatisfying(Watches.Gone.class,
                e -> assertThat(e.oldest()).isEqualTo(11));
        Watcher after = watchAll(10);
        hub.applied(List.of(put(11, "a", "11")));
        assertThat(revisions(after.next(NO_WAIT, ANY_SIZE))).containsExactly(11L);
    }

    @Test
    void eventsAtOrBelowTheRevisionRestoredAreIgnored() throws Exception {
        hub.restored(5);
        hub.applied(List.of(put(4, "a", "4"), put(5, "a", "5"), put(6, "a", "6")));
        assertThat(revisions(watchAll(5).next(NO_WAIT, ANY_SIZE))).containsExactly(6L);
    }

    @Test
    void aRevisionThatDoesNotFollowTheLastStartsTheHistoryOverRatherThanLeaveAGap() throws Exception {
        hub.restored(0);
        hub.applied(List.of(put(1, "a", "1")));
        Watcher w = watchAll(1);
        hub.applied(List.of(put(3, "a", "3")));
        assertThatThrownBy(() -> w.next(NO_WAIT, ANY_SIZE)).isInstanceOf(Watcher.Behind.class);
        assertThatThrownBy(() -> watchAll(1)).isInstanceOf(Watches.Gone.class);
        assertThat(revisions(watchAll(2).next(NO_WAIT, ANY_SIZE))).containsExactly(3L);
    }

    @Test
    void aClosedWatcherStopsWaiting() throws Exception {
        hub.restored(0);
        Watcher w = watchAll(0);
        try (ExecutorService thread = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<List<Event>> next = waiting(w, thread);
            w.close();
            assertThat(next).failsWithin(Duration.ofSeconds(10)).withThrowableThat()
                    .havingRootCause().isInstanceOf(Watcher.Closed.class);
        }
    }

    @Test
    void theStoreTellsTheHubWithoutWaitingForWatchersAndAWaitingWatcherIsToldOnceTheyLetGo() throws Exception {
        hub.restored(0);
        Watcher w = watchAll(0);
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletableFuture<Thread> watcherThread = new CompletableFuture<>();
            CompletableFuture<List<Event>> next = CompletableFuture.supplyAsync(() -> {
                watcherThread.complete(Thread.currentThread());
                try {
                    return w.next(Duration.ofMinutes(1), ANY_SIZE);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }, threads);
            await().until(() -> watcherThread.get().getState() == Thread.State.TIMED_WAITING);
            // A watcher scanning a long history, or the wake-up of many, holds the lock the watchers share that long.
            ReentrantLock watchersLock = watchersLock();
            threads.submit(() -> {
                watchersLock.lock();
                try {
                    held.countDown();
                    letGo.await();
                } finally {
                    watchersLock.unlock();
                }
                return null;
            });
            held.await();
            try {
                CompletableFuture<Void> told = CompletableFuture.runAsync(() -> hub.applied(List.of(put(1, "a", "1"))),
                        threads);
                assertThat(told).as("the store telling the hub while watchers hold it")
                        .succeedsWithin(Duration.ofSeconds(10));
            } finally {
                letGo.countDown();
            }
            assertThat(revisions(next.get())).containsExactly(1L);
        }
    }

    @Test
    void watchersReadingWhileTheStoreAppendsAndRestoresGetEveryRevisionWholeInOrderOrAreToldWhereTheyStopped()
            throws Exception {
        // Room for about 2,000 revisions of three events: the history trims all along, and its ring grows once.
        WatchHub small = new WatchHub(2000 * 3 * History.bytes(put(1, "a", "1")));
        small.restored(0);
        int last = 100_000;
        // A snapshot at 60,000 installed once 50,000 was applied: the revisions between never come.
        long snapshot = 60_000;
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<List<String>>> readers = new ArrayList<>();
            for (long maxBytes : List.of(1L, 1L, 1L << 10, ANY_SIZE)) {
                readers.add(threads.submit(() -> readAll(small, last, maxBytes)));
            }
            // Passes of one to five revisions.
            for (long first = 1, end; first <= last; first = end + 1) {
                if (first > 50_000 && first <= snapshot) {
                    small.restored(snapshot);
                    first = snapshot + 1;
                }
                end = Math.min(last, first + first % 5);
                List<Event> pass = new ArrayList<>();
                for (long r = first; r <= end; r++) {
                    pass.addAll(List.of(put(r, "a", "1"), put(r, "b", "1"), put(r, "c", "1")));
                }
                small.applied(pass);
            }
            for (Future<List<String>> reader : readers) {
                assertThat(reader.get(1, TimeUnit.MINUTES)).isEmpty();
            }
        }
    }

    /**
     * Reads every revision up to {@code last} as a client does, watching again after the oldest revision the hub can
     * serve when it is told it fell behind; checks each batch on the way.
     *
     * @return what broke the hub's promises, if anything did
     */
    private static List<String> readAll(WatchHub hub, long last, long maxBytes) throws InterruptedException {
        List<String> broken = new ArrayList<>();
        long after = 0;
        while (after < last && broken.isEmpty()) {
            Watcher w;
            try {
                w = hub.watch(new Filter.Prefix(""), OptionalLong.of(after));
            } catch (Watches.Gone e) {
                after = e.oldest() - 1;
                continue;
            }
            try {
                while (after < last && broken.isEmpty()) {
                    List<Event> batch = w.next(Duration.ofSeconds(10), maxBytes);
                    if (batch.isEmpty()) {
                        broken.add("nothing after " + after + " within 10 s");
                    }
                    for (int i = 0; i < batch.size(); i += 3) {
                        List<Event> revision = batch.subList(i, Math.min(batch.size(), i + 3));
                        if (revision.stream().map(e -> e.revision() + " " + e.key()).toList()
                                .equals(List.of(after + 1 + " a", after + 1 + " b", after + 1 + " c"))) {
                            after++;
                        } else {
                            broken.add("after " + after + ", " + described(revision));
                        }
                    }
                    if (w.position() != after) {
                        broken.add("read up to " + after + ", position " + w.position());
                    }
                }
            } catch (Watcher.Behind e) {
                if (e.position() != after) {
                    broken.add("behind at " + e.position() + ", having read up to " + after);
                }
                after = e.oldest() - 1;
            } catch (Watcher.Closed e) {
                broken.add("closed");
            }
        }
        return broken;
    }

    /**
     * The lock the hub's watchers share (to wait, and to scan where they scan under it). No watcher can be stopped
     * while it holds it, so the test takes it as a busy one would.
     */
    private ReentrantLock watchersLock() throws ReflectiveOperationException {
        Field lock = WatchHub.class.getDeclaredField("lock");
        lock.setAccessible(true);
        return (ReentrantLock) lock.get(hub);
    }

    /** {@link Watcher#next} waiting on {@code thread}: what it throws is the cause of the future's failure. */
    private static CompletableFuture<List<Event>> waiting(Watcher w, ExecutorService thread) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return w.next(Duration.ofMinutes(1), ANY_SIZE);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, thread);
    }
}
