package io.metcd.wal;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Deletes files on a thread of its own, one after the other. Unlinking a snapshot file of a gigabyte keeps ext4 busy for
 * hundreds of milliseconds (it frees every extent of the file), and no thread with other work should wait for that: not
 * the Raft thread, not a thread holding {@link SnapshotFiles}' lock, which the Raft thread takes at every flush.
 * <p>
 * {@link #delete} first renames the file out of the way, which is quick and frees its name at once (a snapshot taken
 * again at the same index gets a new file under the old name), then queues the renamed file. A file renamed and not yet
 * deleted when the process dies is deleted after the next start ({@link #start}); one not yet renamed is
 * judged by its name, as any snapshot file is then.
 */
final class FileDeleter implements AutoCloseable {
    /** Deletes one file; {@code Files::deleteIfExists} but in tests. */
    @FunctionalInterface
    interface Deletion {
        void delete(Path path) throws IOException;
    }

    private static final Logger LOG = LoggerFactory.getLogger(FileDeleter.class);
    /** What a renamed file's name starts with: no snapshot file's does. */
    private static final String DOOMED = "deleting-";
    /** Queued by {@link #close}: the thread stops once it has deleted what was queued before. */
    private static final Path STOP = Path.of(DOOMED);

    private final Path dir;
    private final Deletion deletion;
    private final BlockingQueue<Path> doomed = new LinkedBlockingQueue<>();
    private final AtomicLong renamed = new AtomicLong();
    private final Thread thread;

    /** Deletes the files it is given in {@code dir} with {@code deletion}, on a thread named {@code name}. */
    FileDeleter(Path dir, Deletion deletion, String name) {
        this.dir = dir;
        this.deletion = deletion;
        this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this::deleteQueued);
    }

    /** Starts deleting in the background, first what a process that died left renamed in the directory. */
    FileDeleter start() throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            files.filter(p -> p.getFileName().toString().startsWith(DOOMED)).forEach(doomed::add);
        }
        thread.start();
        return this;
    }

    /** Renames {@code path}, a file in the directory, out of the way now, and deletes it in the background. */
    void delete(Path path) {
        // Unique in this process; a leftover of the same name, queued at start, is doomed as well.
        Path target = dir.resolve(DOOMED + renamed.incrementAndGet() + "-" + path.getFileName());
        try {
            Files.move(path, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException e) {
            return;
        } catch (IOException e) {
            LOG.warn("cannot rename {} to delete it: {}", path, e.toString());
            return;
        }
        doomed.add(target);
    }

    private void deleteQueued() {
        try {
            for (Path next = doomed.take(); next != STOP; next = doomed.take()) {
                deleteNow(next);
            }
        } catch (InterruptedException e) {
            // not expected: only close() stops the thread, and it does so in the queue's order
        }
    }

    private void deleteNow(Path path) {
        try {
            deletion.delete(path);
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", path, e.toString());
        }
    }

    /**
     * Returns once what was queued before is deleted, and stops the thread; a file given to {@link #delete} afterwards is
     * deleted at the next start.
     */
    @Override
    public void close() {
        if (!thread.isAlive()) {
            return;
        }
        doomed.add(STOP);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
