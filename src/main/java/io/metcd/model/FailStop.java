package io.metcd.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * How a node stops when a part of it can no longer keep its promises: the WAL cannot persist, the store cannot apply
 * what was committed (an {@link Error} included: a full disk under a memory-mapped file, an OutOfMemoryError), or
 * MicroRaft's calls into the state machine fail, which MicroRaft itself would log and go past. Such a node must not
 * vote, acknowledge a write, or serve reads from a store that stopped moving: it stops at once, and comes back when
 * it is restarted on its data (the WAL holds everything it acknowledged).
 * <p>
 * Every part of a node is given the same instance. The first failure logs its cause through SLF4J, with the free
 * space on the disk of the data directory (a full disk shows only as an {@code InternalError} in a mapped write), and
 * then stops the node: {@link #halting} halts the process with status {@value #EXIT_STATUS}, without shutdown hooks,
 * which could wait for ever on the part that failed; tests that run nodes in one JVM record the failure instead.
 * Later failures are only logged.
 */
public final class FailStop {
    /** sysexits' EX_SOFTWARE: a failure inside the node, not a bad flag (1 or 2) nor a clean stop (0). */
    public static final int EXIT_STATUS = 70;
    private static final Logger LOG = LoggerFactory.getLogger(FailStop.class);

    private final Path dataDir;
    private final Consumer<Throwable> stop;
    private final AtomicReference<Throwable> cause = new AtomicReference<>();

    /**
     * @param dataDir the node's data directory, whose disk's free space is logged
     * @param stop    stops the node, given the first failure; runs once
     */
    public FailStop(Path dataDir, Consumer<Throwable> stop) {
        this.dataDir = dataDir;
        this.stop = stop;
    }

    /** Halts the process, status {@value #EXIT_STATUS}, on the first failure. */
    public static FailStop halting(Path dataDir) {
        return new FailStop(dataDir, failure -> Runtime.getRuntime().halt(EXIT_STATUS));
    }

    /**
     * Stops the node, from any thread. Does not return when the node halts.
     *
     * @param what what failed, as the start of a sentence: "the applier failed at index 42"
     */
    public void stop(String what, Throwable failure) {
        boolean first = cause.compareAndSet(null, failure);
        try {
            if (first) {
                LOG.error("{} ({} on the disk of {}); stopping the node, which must not acknowledge, vote or serve "
                        + "reads any more", what, freeSpace(), dataDir, failure);
            } else {
                LOG.error("{}, after the node was stopped", what, failure);
            }
        } finally {
            // Even if logging failed (out of memory, say), the node must stop.
            if (first) {
                stop.accept(failure);
            }
        }
    }

    /** The failure that stopped the node, if one did. */
    public Optional<Throwable> cause() {
        return Optional.ofNullable(cause.get());
    }

    private String freeSpace() {
        try {
            return Files.getFileStore(dataDir).getUsableSpace() + " bytes free";
        } catch (IOException | RuntimeException e) {
            return "free space unknown: " + e.getMessage();
        }
    }
}
