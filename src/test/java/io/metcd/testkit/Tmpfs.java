package io.metcd.testkit;

import org.opentest4j.TestAbortedException;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A small tmpfs mounted on a directory, so that a test can fill a node's disk for real. Mounting needs root (the tests
 * and CI run as root); where it is refused, {@link #mount} fails a JUnit assumption that says why. {@link #close()}
 * unmounts it.
 */
public final class Tmpfs implements AutoCloseable {
    private static final String FILLER = "filler";
    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    /**
     * Mounts a tmpfs of {@code bytes} on {@code dir} (created if missing).
     *
     * @throws TestAbortedException (a failed JUnit assumption) saying why, if it cannot
     */
    public static Tmpfs mount(Path dir, long bytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String failure = Commands.run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", dir.toString());
        assumeTrue(failure == null, () -> "cannot mount a tmpfs on " + dir + " (this test needs root): " + failure);
        return new Tmpfs(dir);
    }

    /** Fills the file system with a file until at most {@code leftBytes} are free; {@link #freeSpace()} deletes it. */
    public void fillLeaving(long leftBytes) {
        byte[] block = new byte[64 * 1024];
        try (OutputStream out = Files.newOutputStream(dir.resolve(FILLER))) {
            for (long free = freeBytes(); free > leftBytes; free -= block.length) {
                out.write(block, 0, (int) Math.min(block.length, free - leftBytes));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes what {@link #fillLeaving} wrote. */
    public void freeSpace() {
        try {
            Files.delete(dir.resolve(FILLER));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public long freeBytes() {
        try {
            return Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Unmounts it; lazily if a process still holds a file in it, so that the directory can go. */
    @Override
    public void close() {
        if (Commands.run("umount", dir.toString()) != null) {
            String failure = Commands.run("umount", "-l", dir.toString());
            if (failure != null) {
                throw new IllegalStateException("cannot unmount the tmpfs on " + dir + ": " + failure);
            }
        }
    }
}
