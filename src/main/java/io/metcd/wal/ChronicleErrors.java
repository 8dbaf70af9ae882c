package io.metcd.wal;

import net.openhft.chronicle.core.Jvm;
import net.openhft.chronicle.core.onoes.ExceptionHandler;
import net.openhft.chronicle.core.onoes.ThreadLocalisedExceptionHandler;
import org.slf4j.Logger;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes an error that Chronicle only reports fail the call it happened in. Chronicle does not throw when an msync
 * fails: its mapped store reports "msync failed" to {@code Jvm.error()} and then counts the pages as synced, so no
 * later sync covers them again. {@code Jvm.error()} lets each thread have a handler of its own: the one installed
 * here passes every report on to Chronicle's default handler (it is still logged as before) and keeps those made
 * on its thread while {@link #failOnReport} runs.
 */
final class ChronicleErrors {
    private static final ThreadLocalisedExceptionHandler ERRORS = (ThreadLocalisedExceptionHandler) Jvm.error();
    /** What was reported on this thread during the call in progress; unset outside {@link #failOnReport}. */
    private static final ThreadLocal<List<String>> REPORTED = new ThreadLocal<>();
    private static final ExceptionHandler KEEPING = new ExceptionHandler() {
        @Override
        public void on(Class<?> source, String message, Throwable thrown) {
            ERRORS.defaultHandler().on(source, message, thrown);
            keep(source.getName(), message, thrown);
        }

        @Override
        public void on(Logger logger, String message, Throwable thrown) {
            ERRORS.defaultHandler().on(logger, message, thrown);
            keep(logger.getName(), message, thrown);
        }
    };

    private ChronicleErrors() {
    }

    /**
     * Runs {@code call}, a Chronicle operation, on this thread.
     *
     * @throws IOException if Chronicle reported an error on this thread meanwhile (the call itself returned)
     */
    static void failOnReport(Runnable call) throws IOException {
        // Installed once per thread and left there: clearing a thread's handler would silence Chronicle on it.
        if (ERRORS.threadLocalHandler() != KEEPING) {
            ERRORS.threadLocalHandler(KEEPING);
        }
        List<String> reported = new ArrayList<>(1);
        REPORTED.set(reported);
        try {
            call.run();
        } finally {
            REPORTED.remove();
        }
        if (!reported.isEmpty()) {
            throw new IOException("Chronicle reported an error: " + String.join("; ", reported));
        }
    }

    private static void keep(String source, String message, Throwable thrown) {
        List<String> reported = REPORTED.get();
        if (reported != null) {
            reported.add(source + ": " + message + (thrown == null ? "" : " (" + thrown + ")"));
        }
    }
}
