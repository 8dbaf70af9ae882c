package io.metcd.transport;

import io.metcd.codec.Codec;
import io.metcd.codec.Writer;
import io.metcd.model.Member;
import io.metcd.model.Operation;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The outbound half of the link to one peer: a bounded queue that {@link PeerTransport} offers messages
 * to without ever blocking, and one platform thread that dials the peer, writes the queue out as frames
 * and dials again when the connection breaks (why not a virtual one: {@link PeerTransport}).
 * <p>
 * Messages are lost rather than held without bound: a message that finds the queue full is dropped,
 * whatever was in flight when a connection breaks is lost, and the queue is emptied whenever the peer
 * cannot be reached. Raft resends what matters, and a peer that comes back after a long absence should
 * get the leader's current messages, not thousands of stale ones first. A message dropped before any of it
 * was written (a full queue, a peer that could not be dialed) certainly never arrived: the transport says so
 * ({@link PeerTransport#onUndelivered}); one lost with a connection may have arrived.
 */
final class OutboundPeer {
    private static final Logger LOG = LoggerFactory.getLogger(OutboundPeer.class);

    /** Room for the bursts between two flushes: a leader's appends and heartbeats plus forwarded client writes. */
    static final int QUEUE_CAPACITY = 4096;
    private static final long MIN_BACKOFF_MS = 50;
    private static final long MAX_BACKOFF_MS = 100;
    /** A connection that carried traffic this long was a working one: redialing after its loss starts fast. */
    private static final long STABLE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** Far longer than a loopback or LAN handshake takes, short enough that a dead host does not stall us long. */
    private static final int CONNECT_TIMEOUT_MS = 1000;
    private static final int BUFFER_BYTES = 64 * 1024;
    /** An encoding buffer that a rare large message (a snapshot chunk) grew past this is not kept. */
    private static final int RETAINED_BUFFER_BYTES = 1 << 20;

    private final PeerTransport transport;
    private final int id;
    private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(QUEUE_CAPACITY);
    private final AtomicBoolean overflowing = new AtomicBoolean();
    private final Thread thread;
    /** Where to dial; replaced when the member turns up with another peer URL. */
    private volatile Member member;
    /** The established connection, null while there is none. */
    private volatile Socket socket;
    /**
     * The connection being dialed, null while none is: {@link #stop} closes it, as a platform thread blocked in a dial
     * (or in the handshake's write) does not end on an interrupt.
     */
    private volatile Socket dialing;

    // Confined to the sender thread.
    private OutputStream out;
    private String connectedUrl;
    private long connectedAt;
    private Writer writer = new Writer(BUFFER_BYTES);
    private long backoffMs = MIN_BACKOFF_MS;
    /** Dialing failed, or connections broke as soon as they were made: back off, and log only the first failure. */
    private boolean troubled;
    private boolean everConnected;

    OutboundPeer(PeerTransport transport, Member member) {
        this.transport = transport;
        this.id = member.id();
        this.member = member;
        this.thread = Thread.ofPlatform().daemon().name("metcd-" + transport.localId() + "-to-" + id)
                .unstarted(this::run);
    }

    OutboundPeer start() {
        thread.start();
        return this;
    }

    /** Queues {@code message} for {@code target} (this peer, maybe at a new address); drops it if the queue is full. */
    void offer(Member target, Object message) {
        if (!target.peerUrl().equals(member.peerUrl())) {
            member = target;
        }
        if (!queue.offer(message)) {
            transport.countDroppedQueueFull();
            transport.undelivered(message);
            if (overflowing.compareAndSet(false, true)) {
                LOG.warn("outbound queue to {} is full ({} messages): dropping messages until it drains", member,
                        QUEUE_CAPACITY);
            }
        }
    }

    boolean isConnected() {
        return socket != null;
    }

    int queueDepth() {
        return queue.size();
    }

    /** Starts stopping the sender thread: it ends whatever it is blocked in. */
    void stop() {
        thread.interrupt();
        PeerTransport.closeQuietly(dialing);
        PeerTransport.closeQuietly(socket);
    }

    boolean join(Duration timeout) throws InterruptedException {
        return thread.join(timeout);
    }

    private void run() {
        try {
            while (!transport.isClosed()) {
                Object message = queue.take();
                if (out != null && !connectedUrl.equals(member.peerUrl())) {
                    LOG.info("{} has a new address; redialing", member);
                    disconnect();
                }
                if (out != null || connect()) {
                    writeBurst(message);
                } else {
                    transport.undelivered(message);
                }
            }
        } catch (InterruptedException e) {
            // stop() interrupts: the transport is closing.
        } finally {
            disconnect();
        }
    }

    /**
     * Dials the peer and sends the handshake; on failure empties the queue, since the peer is not there to read it
     * (the message the caller holds is its to report undelivered).
     */
    private boolean connect() throws InterruptedException {
        if (troubled) {
            Thread.sleep(backoffMs);
        }
        Member target = member;
        Socket s = new Socket();
        dialing = s;
        try {
            // Bursts are flushed whole, so Nagle's algorithm could only delay the last frame of each.
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(target.host(), target.port()), CONNECT_TIMEOUT_MS);
            out = new BufferedOutputStream(s.getOutputStream(), BUFFER_BYTES);
            out.write(transport.handshake());
        } catch (IOException | IllegalArgumentException e) {
            out = null;
            PeerTransport.closeQuietly(s);
            int discarded = 1;
            for (Object queued; (queued = queue.poll()) != null; discarded++) {
                transport.undelivered(queued);
            }
            transport.countDroppedUnreachable(discarded);
            transport.connectionLost(id);
            failed("cannot reach " + target, e);
            return false;
        } finally {
            dialing = null;
        }
        socket = s;
        if (transport.isClosed()) {
            // stop() may have run before socket was set, and closed nothing: the connection is this thread's to close.
            disconnect();
            return false;
        }
        connectedUrl = target.peerUrl();
        connectedAt = System.nanoTime();
        if (everConnected) {
            transport.countReconnect();
        }
        everConnected = true;
        if (troubled) {
            LOG.debug("connected to {}", target);
        } else {
            LOG.info("connected to {}", target);
        }
        return true;
    }

    /** Writes {@code first} and everything queued behind it, flushing once the queue is empty: a burst, one write. */
    private void writeBurst(Object first) {
        try {
            Object message = first;
            do {
                writeFrame(message);
            } while ((message = queue.poll()) != null);
            out.flush();
        } catch (IOException e) {
            boolean stable = System.nanoTime() - connectedAt >= STABLE_NANOS;
            disconnect();
            transport.connectionLost(id);
            if (!stable) {
                // Also how a peer refuses our handshake (another group or protocol version): its log says which.
                failed("connection to " + member + " broke within a second of being made", e);
            } else if (!transport.isClosed()) {
                LOG.info("lost connection to {}: {}; redialing", member, e.toString());
            }
            return;
        }
        if (overflowing.compareAndSet(true, false)) {
            LOG.info("outbound queue to {} drained", member);
        }
        if (troubled && System.nanoTime() - connectedAt >= STABLE_NANOS) {
            troubled = false;
            backoffMs = MIN_BACKOFF_MS;
            LOG.info("connection to {} works again", member);
        }
    }

    private void writeFrame(Object message) throws IOException {
        // A partition set while the message waited in the queue still stops it.
        if (transport.isPartitioned(id)) {
            transport.countDroppedByFaults();
            return;
        }
        // The length prefix is written as a placeholder and filled in once the payload is encoded.
        Writer w = writer.reset().i32(0);
        try {
            Codec.writeMessage(w, message);
        } catch (Operation.ChunkSource.Closed e) {
            LOG.debug("dropped a {} for {}: its snapshot chunk went with the WAL, as the node stops",
                    message.getClass().getSimpleName(), member);
            return;
        } catch (RuntimeException e) {
            LOG.error("cannot encode a {} for {}; dropped it", message.getClass().getName(), member, e);
            return;
        }
        int payload = w.length() - Integer.BYTES;
        if (payload > transport.maxFrameLength()) {
            // The peer would reject the frame and the connection with it. Raft resends such a message for ever:
            // the limit must stay far above what the node's batch and chunk sizes can produce.
            LOG.error("a {} for {} encodes to {} bytes, more than the frame limit {}; dropped it",
                    message.getClass().getSimpleName(), member, payload, transport.maxFrameLength());
        } else {
            w.putI32(0, payload);
            out.write(w.array(), 0, w.length());
        }
        if (w.array().length > RETAINED_BUFFER_BYTES) {
            writer = new Writer(BUFFER_BYTES);
        }
    }

    /** Notes a failed dial or a connection that broke at once: the next dial waits, longer each time in a row. */
    private void failed(String what, Exception e) {
        if (transport.isClosed()) {
            return; // the failure is close() ending the dial or the write
        }
        if (troubled) {
            backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
            LOG.debug("{}: {}", what, e.toString());
        } else {
            backoffMs = MIN_BACKOFF_MS;
            troubled = true;
            LOG.warn("{}: {}; retrying with backoff up to {} ms", what, e.toString(), MAX_BACKOFF_MS);
        }
    }

    private void disconnect() {
        out = null;
        Socket s = socket;
        socket = null;
        PeerTransport.closeQuietly(s);
    }

    @Override
    public String toString() {
        return thread.getName();
    }
}
