package io.metcd.wal;

import net.openhft.posix.PosixAPI;
import net.openhft.posix.internal.PosixAPIHolder;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;

/**
 * Makes every msync that Chronicle asks of the operating system on the calling thread fail with EIO, as a disk that
 * cannot write the pages back does, until closed. It stands in for Chronicle's POSIX binding (a public field of
 * Chronicle's, read at every call), so that Chronicle's own code meets the failure and reports it its own way.
 */
final class FailingMsync implements AutoCloseable {
    private static final int EIO = 5;

    private final PosixAPI real;
    private final Thread failing = Thread.currentThread();

    private FailingMsync() {
        PosixAPIHolder.loadPosixApi();
        real = PosixAPIHolder.POSIX_API;
        PosixAPIHolder.POSIX_API = (PosixAPI) Proxy.newProxyInstance(PosixAPI.class.getClassLoader(),
                new Class<?>[] {PosixAPI.class}, (proxy, method, args) -> {
                    if (Thread.currentThread() == failing) {
                        switch (method.getName()) {
                            case "msync" -> {
                                return -1;
                            }
                            case "lastError" -> {
                                return EIO;
                            }
                            case "lastErrorStr" -> {
                                return "Input/output error (injected)";
                            }
                            default -> {
                            }
                        }
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** From now on, msyncs on this thread fail. */
    static FailingMsync onThisThread() {
        return new FailingMsync();
    }

    @Override
    public void close() {
        PosixAPIHolder.POSIX_API = real;
    }
}
