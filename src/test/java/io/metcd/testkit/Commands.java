package io.metcd.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Operating-system commands the tests run as an operator would type them (mount, ip, iptables), bounded in time. */
public final class Commands {
    private static final long TIMEOUT_SECONDS = 30;

    private Commands() {
    }

    /** Runs {@code command}; returns null if it succeeded, else why not (its exit status and output). */
    public static String run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            // Read to the end before waiting: a command whose output fills the pipe would never exit.
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "timed out after " + TIMEOUT_SECONDS + " s";
            }
            return p.exitValue() == 0 ? null : "exit " + p.exitValue() + ": " + output;
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e.toString();
        }
    }

    public static String run(String... command) {
        return run(List.of(command));
    }

    /** Runs {@code command} and returns its standard output. */
    public static String output(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " failed");
            }
            return output;
        } catch (IOException e) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code command} and fails, saying why, if it does not succeed. */
    public static void require(String... command) {
        String failure = run(command);
        if (failure != null) {
            throw new IllegalStateException(String.join(" ", command) + ": " + failure);
        }
    }
}
