package io.metcd.resp;

import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * One connection's state, as its commands set and read it: the protocol version, the read level, the client's name.
 * Touched only on the connection's event loop, in the order its commands arrive, so that a command sees the effect of
 * every command sent before it (a GET after READONLY reads at the stale level, a reply after HELLO 3 is RESP3).
 */
final class Session {
    final long id;
    final SocketAddress remote;
    final SocketAddress local;
    private final long createdNanos = System.nanoTime();
    private long lastCommandNanos = createdNanos;
    private String lastCommand = "NULL";

    int protocol = Reply.RESP2;
    Keyspace.ReadLevel readLevel = Keyspace.ReadLevel.DEFAULT;
    /** The client's name (CLIENT SETNAME), "" for none. */
    String name = "";
    String libraryName = "";
    String libraryVersion = "";
    /** Set by QUIT: the connection closes once this command's reply is written. */
    boolean closeAfterReply;

    Session(long id, SocketAddress remote, SocketAddress local) {
        this.id = id;
        this.remote = remote;
        this.local = local;
    }

    void commandArrived(String command) {
        lastCommand = command;
        lastCommandNanos = System.nanoTime();
    }

    /** The line CLIENT INFO answers, with the fields of Redis's that mean something here. */
    String info() {
        long now = System.nanoTime();
        return "id=" + id + " addr=" + address(remote) + " laddr=" + address(local) + " name=" + name
                + " age=" + TimeUnit.NANOSECONDS.toSeconds(now - createdNanos)
                + " idle=" + TimeUnit.NANOSECONDS.toSeconds(now - lastCommandNanos)
                + " flags=" + (readLevel == Keyspace.ReadLevel.STALE ? "r" : "N") + " db=0 cmd=" + lastCommand
                + " resp=" + protocol + " lib-name=" + libraryName + " lib-ver=" + libraryVersion + "\n";
    }

    /** host:port, as Redis writes addresses. */
    private static String address(SocketAddress address) {
        String text = String.valueOf(address);
        return text.startsWith("/") ? text.substring(1) : text;
    }
}
