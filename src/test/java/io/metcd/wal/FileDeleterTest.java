package io.metcd.wal;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Files deleted in the background, their names free at once. */
class FileDeleterTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aFilesNameIsFreeAtOnceAndTheFileIsDeletedInTheBackground() throws Exception {
        CountDownLatch deletionMayEnd = new CountDownLatch(1);
        Path file = Files.writeString(dir.resolve("snap-1"), "old");
        try (FileDeleter deleter = new FileDeleter(dir, path -> {
            awaitQuietly(deletionMayEnd);
            Files.deleteIfExists(path);
        }, "deleter-test").start()) {
            deleter.delete(file);

            assertThat(file).doesNotExist();
            Files.writeString(file, "new");
            assertThat(files()).hasSize(2);
            deletionMayEnd.countDown();
            await().atMost(PATIENCE).untilAsserted(() -> assertThat(files()).containsExactly(file));
            assertThat(file).hasContent("new");
        }
    }

    @Test
    void whatAProcessThatDiedLeftRenamedIsDeletedAfterTheNextStart() throws IOException {
        Path kept = Files.writeString(dir.resolve("snap-2"), "newest");
        try (FileDeleter first = new FileDeleter(dir, path -> { }, "deleter-test").start()) {
            first.delete(Files.writeString(dir.resolve("snap-1"), "older"));
        }
        assertThat(files()).hasSize(2);

        try (FileDeleter next = new FileDeleter(dir, Files::deleteIfExists, "deleter-test").start()) {
            await().atMost(PATIENCE).untilAsserted(() -> assertThat(files()).containsExactly(kept));
        }
    }

    @Test
    void closingDeletesWhatIsStillQueued() throws Exception {
        CountDownLatch deleting = new CountDownLatch(1);
        CountDownLatch deletionMayEnd = new CountDownLatch(1);
        FileDeleter deleter = new FileDeleter(dir, path -> {
            deleting.countDown();
            awaitQuietly(deletionMayEnd);
            Files.deleteIfExists(path);
        }, "deleter-test").start();
        deleter.delete(Files.writeString(dir.resolve("snap-1"), "a"));
        assertThat(deleting.await(PATIENCE.toSeconds(), TimeUnit.SECONDS)).isTrue();
        deleter.delete(Files.writeString(dir.resolve("snap-2"), "b"));

        deletionMayEnd.countDown();
        deleter.close();

        assertThat(files()).isEmpty();
    }

    private List<Path> files() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    private static void awaitQuietly(CountDownLatch latch) throws IOException {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }
}
