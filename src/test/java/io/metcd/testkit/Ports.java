package io.metcd.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.IntStream;

/**
 * Loopback ports for test nodes. They come from below Linux's ephemeral range (32768 and up), because a
 * port taken from that range can be handed to some outgoing connection between the check and the bind;
 * and a port is never handed out twice in one JVM, since a stopped node keeps its ports for its restart.
 */
public final class Ports {
    private static final int FIRST = 20_000;
    private static final int LAST = 32_000;
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    private Ports() {
    }

    public static int free() {
        return freeBlock(1);
    }

    /**
     * The first of {@code count} consecutive free ports, all handed out: for what numbers its ports from a base,
     * as {@code bin/local-cluster} does (node N on base + N).
     */
    public static synchronized int freeBlock(int count) {
        for (int attempt = 0; attempt < 1000; attempt++) {
            int first = ThreadLocalRandom.current().nextInt(FIRST, LAST - count);
            if (IntStream.range(first, first + count).allMatch(Ports::bindable)) {
                IntStream.range(first, first + count).forEach(HANDED_OUT::add);
                return first;
            }
        }
        throw new IllegalStateException("no " + count + " free loopback ports in a row between " + FIRST + " and "
                + LAST);
    }

    private static boolean bindable(int port) {
        if (HANDED_OUT.contains(port)) {
            return false;
        }
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false; // taken
        }
    }
}
