package io.metcd.transport;

import io.metcd.codec.Codec;
import io.metcd.metrics.PeerCounters;
import io.metcd.model.Member;
import io.metcd.model.PeerMessage;
import io.microraft.RaftEndpoint;
import io.microraft.model.message.RaftMessage;
import io.microraft.transport.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * metcd's {@link Transport}: raw TCP between the nodes of one Raft group, on the host and port of each
 * member's peer URL (the URL's scheme is only a label).
 * <p>
 * Connections are one-directional. A node dials every peer it sends to, on one thread per peer that drains
 * a bounded queue, and accepts the connections its peers dial to it, reading each on a thread of its own.
 * So no two nodes ever race to share a connection.
 * <p>
 * Those threads are platform threads, as MicroRaft's own is, while client requests and watches run on virtual
 * ones: virtual threads share a few carrier threads and are not preempted, so under a flood of client work
 * (a thousand watchers woken by every write) a heartbeat would wait for a carrier behind it, and a follower
 * that waits a heartbeat timeout for one gives its leader up. The kernel shares the cores among platform
 * threads, so Raft's messages keep moving whatever the carriers are doing. Only the handshake of a connection
 * a peer dials is read on a virtual thread ({@link InboundPeer}: a stranger must not cost a platform thread).
 * <p>
 * On the wire, the dialer first sends a handshake (magic, protocol version, group id and its member
 * id, see {@link Handshake}); then frames, each a big-endian {@code i32} payload length followed by one
 * message encoded by {@link Codec#writeMessage}. A connection that breaks the protocol (a bad
 * handshake, a length outside {@code 0..maxFrameLength}, a frame cut short or a payload that does not
 * decode exactly) is closed with a warning; other connections are not affected.
 * <p>
 * Delivery is best effort, as {@link Transport} allows: a message is dropped when its peer's queue is
 * full, when the peer cannot be reached, or when the connection breaks while it is in flight. Over one
 * connection, messages arrive in the order they were sent.
 */
public final class PeerTransport implements Transport, PeerCounters, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerTransport.class);

    /**
     * The default largest frame, sent or accepted. It is there so that a corrupt length prefix cannot
     * make a node allocate gigabytes; 128 MiB is far above any append batch or snapshot chunk the node
     * produces, and still a size that a node can afford to allocate for one peer.
     */
    static final int DEFAULT_MAX_FRAME_LENGTH = 128 << 20;
    /**
     * A peer heard from this recently is reachable even while our own connection to it is down. It is
     * longer than MicroRaft's leader heartbeat period, so a live peer that talks to us is not missed, and short
     * enough that writes stop being forwarded to a leader that cannot be reached well within their deadline.
     */
    private static final long HEARD_RECENTLY_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final Member local;
    private final String groupId;
    private final Consumer<Object> inbound;
    private final int maxFrameLength;
    private final byte[] handshake;

    private final ConcurrentMap<Integer, OutboundPeer> peers = new ConcurrentHashMap<>();
    /** When a frame (or the handshake) last arrived from each peer, in {@link System#nanoTime()}. */
    private final ConcurrentMap<Integer, AtomicLong> lastHeard = new ConcurrentHashMap<>();
    /** Client URLs by member id, this node's and those learned from the peers' handshakes. */
    private final ConcurrentMap<Integer, String> clientUrls = new ConcurrentHashMap<>();
    /** The connection each peer dialed to us; a peer that dials again replaces, and closes, its previous one. */
    private final ConcurrentMap<Integer, Socket> inboundByPeer = new ConcurrentHashMap<>();
    /** Every accepted connection, from before its handshake until its reader ends. */
    private final Set<Socket> inboundSockets = ConcurrentHashMap.newKeySet();
    private final Set<Thread> readers = ConcurrentHashMap.newKeySet();
    private final NetworkFaults faults = new NetworkFaults();
    private volatile IntConsumer connectionLost = peerId -> {
    };
    private volatile Consumer<PeerMessage> undelivered = message -> {
    };
    /** Holds back delayed messages; started by the first delay injected, as faults are for tests only. */
    private ScheduledExecutorService delayed;

    private final LongAdder droppedQueueFull = new LongAdder();
    private final LongAdder droppedUnreachable = new LongAdder();
    private final LongAdder droppedByFaults = new LongAdder();
    private final LongAdder reconnects = new LongAdder();

    private volatile boolean closed;
    private ServerSocket server;
    private Thread acceptor;

    /**
     * Creates the transport of {@code local}; nothing happens on the network before {@link #start()}.
     *
     * @param local
     *            this node: the host and port of its peer URL are where it listens
     * @param clientUrl
     *            where this node serves clients; every peer learns it from the handshake
     * @param groupId
     *            the Raft group id; handshakes and Raft messages of other groups are refused
     * @param inbound
     *            receives every message that arrives, a {@link RaftMessage} or a {@link PeerMessage}, on
     *            the reader thread of its connection; it must return promptly and not throw
     */
    public PeerTransport(Member local, String clientUrl, String groupId, Consumer<Object> inbound) {
        this(local, clientUrl, groupId, inbound, DEFAULT_MAX_FRAME_LENGTH);
    }

    /** As the public constructor, with a frame limit that tests can make small. */
    PeerTransport(Member local, String clientUrl, String groupId, Consumer<Object> inbound, int maxFrameLength) {
        if (maxFrameLength <= 0) {
            throw new IllegalArgumentException("max frame length must be positive, not " + maxFrameLength);
        }
        this.local = Objects.requireNonNull(local);
        this.groupId = Objects.requireNonNull(groupId);
        this.inbound = Objects.requireNonNull(inbound);
        this.maxFrameLength = maxFrameLength;
        this.handshake = Handshake.encode(groupId, local.id(), clientUrl);
        clientUrls.put(local.id(), clientUrl);
    }

    /**
     * Starts listening for peers on the host and port of the local member's peer URL.
     *
     * @throws UncheckedIOException
     *             with a {@link BindException} cause, if that address cannot be bound, typically because
     *             another process has the port
     * @throws IllegalStateException
     *             if the transport was started or closed before
     */
    public synchronized void start() {
        if (server != null || closed) {
            throw new IllegalStateException("peer transport of " + local + " already "
                    + (closed ? "closed" : "started"));
        }
        ServerSocket s = bind();
        server = s;
        acceptor = Thread.ofPlatform().daemon().name("metcd-" + local.id() + "-peer-accept").start(() -> acceptLoop(s));
        LOG.info("member {} listening for peers on {}", local.id(), s.getLocalSocketAddress());
    }

    private ServerSocket bind() {
        ServerSocket s = null;
        try {
            s = new ServerSocket();
            // Lets a restarted node bind while connections of its previous life linger in TIME_WAIT.
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(local.host(), local.port()));
            return s;
        } catch (IOException e) {
            closeQuietly(s);
            BindException clear = new BindException("cannot listen for peers on " + local.peerUrl() + ": "
                    + e.getMessage() + " (is another process using port " + local.port() + "?)");
            clear.initCause(e);
            throw new UncheckedIOException(clear.getMessage(), clear);
        }
    }

    /**
     * Queues {@code message} for {@code target} and returns at once. Never blocks and never throws: a
     * message to this node itself is ignored, and one that cannot be delivered is dropped.
     *
     * @param target
     *            a {@link Member}
     * @param message
     *            a Raft message created by the default model factory
     */
    @Override
    public void send(RaftEndpoint target, RaftMessage message) {
        if (target instanceof Member member) {
            enqueue(member, message);
        } else {
            LOG.error("cannot send to {}: not a metcd member", target);
        }
    }

    /**
     * Queues {@code message} for {@code target} and returns at once, with the same guarantees as
     * {@link #send(RaftEndpoint, RaftMessage)}.
     */
    public void send(Member target, PeerMessage message) {
        enqueue(target, message);
    }

    /**
     * Returns true if our connection to {@code endpoint} is established, or a message arrived from it
     * within the last few seconds; false otherwise, and always while it is partitioned from this node.
     */
    @Override
    public boolean isReachable(RaftEndpoint endpoint) {
        if (!(endpoint.getId() instanceof Integer id) || faults.isPartitioned(id)) {
            return false;
        }
        OutboundPeer peer = peers.get(id);
        if (peer != null && peer.isConnected()) {
            return true;
        }
        AtomicLong heard = lastHeard.get(id);
        return heard != null && System.nanoTime() - heard.get() < HEARD_RECENTLY_NANOS;
    }

    /**
     * Has {@code listener} told the member id of a peer whenever messages to or from it may have been lost with a
     * connection: ours to it broke or could not be made (what was queued for it is dropped then), or its connection
     * to us ended. Called on a transport thread; it must return promptly and not throw. Messages lost otherwise (a
     * full queue, injected faults) are not reported: delivery is best effort.
     */
    public void onConnectionLost(IntConsumer listener) {
        connectionLost = Objects.requireNonNull(listener);
    }

    /**
     * Has {@code listener} told of every {@link PeerMessage} dropped before a byte of it was written: its peer's
     * queue was full, or the peer could not be dialed. Such a message certainly never arrived, so what it carried may
     * be sent again without risk of doubling it. Messages lost in any other way (with a broken connection, to
     * injected faults) may have arrived and are not reported. Called on a transport thread; it must return promptly
     * and not throw.
     */
    public void onUndelivered(Consumer<PeerMessage> listener) {
        undelivered = Objects.requireNonNull(listener);
    }

    /** The URL where member {@code memberId} serves clients, once it has connected to this node (or is this node). */
    public Optional<String> clientUrl(int memberId) {
        return Optional.ofNullable(clientUrls.get(memberId));
    }

    /** The faults injected on this node's links; none unless a test or the test-only admin API sets them. */
    public NetworkFaults faults() {
        return faults;
    }

    @Override
    public long droppedQueueFull() {
        return droppedQueueFull.sum();
    }

    @Override
    public long droppedUnreachable() {
        return droppedUnreachable.sum();
    }

    @Override
    public long droppedByFaults() {
        return droppedByFaults.sum();
    }

    @Override
    public long reconnects() {
        return reconnects.sum();
    }

    @Override
    public Map<Integer, Integer> queueDepths() {
        Map<Integer, Integer> depths = new TreeMap<>();
        peers.forEach((id, peer) -> depths.put(id, peer.queueDepth()));
        return depths;
    }

    /**
     * Stops listening, closes every connection and waits a bounded time for the transport's threads to
     * end. Messages still queued are dropped. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        synchronized (this) {
            closeQuietly(server);
            if (delayed != null) {
                delayed.shutdownNow();
            }
        }
        peers.values().forEach(OutboundPeer::stop);
        inboundSockets.forEach(PeerTransport::closeQuietly);

        long deadline = System.nanoTime() + CLOSE_TIMEOUT.toNanos();
        List<String> stuck = new ArrayList<>();
        try {
            for (OutboundPeer peer : peers.values()) {
                if (!peer.join(remaining(deadline))) {
                    stuck.add(peer.toString());
                }
            }
            Thread acceptorThread;
            synchronized (this) {
                acceptorThread = acceptor;
            }
            // Readers are joined once the acceptor, which starts them, has ended: so every one has started.
            if (acceptorThread != null && !acceptorThread.join(remaining(deadline))) {
                stuck.add(acceptorThread.getName());
            } else {
                for (Thread reader : readers) {
                    if (!reader.join(remaining(deadline))) {
                        stuck.add(reader.getName());
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!stuck.isEmpty()) {
            LOG.warn("peer transport of member {} closed, but threads did not end in {}: {}", local.id(),
                    CLOSE_TIMEOUT, stuck);
        }
    }

    // ------------------------------------------------------------------------------- for OutboundPeer

    int localId() {
        return local.id();
    }

    byte[] handshake() {
        return handshake;
    }

    int maxFrameLength() {
        return maxFrameLength;
    }

    boolean isClosed() {
        return closed;
    }

    boolean isPartitioned(int memberId) {
        return faults.isPartitioned(memberId);
    }

    void countDroppedQueueFull() {
        droppedQueueFull.increment();
    }

    void countDroppedUnreachable(int messages) {
        droppedUnreachable.add(messages);
    }

    void countDroppedByFaults() {
        droppedByFaults.increment();
    }

    void countReconnect() {
        reconnects.increment();
    }

    void undelivered(Object message) {
        if (message instanceof PeerMessage m && !closed) {
            try {
                undelivered.accept(m);
            } catch (RuntimeException e) {
                LOG.error("the listener of undelivered messages failed for a {}", m.getClass().getSimpleName(), e);
            }
        }
    }

    void connectionLost(int peerId) {
        if (!closed) {
            try {
                connectionLost.accept(peerId);
            } catch (RuntimeException e) {
                LOG.error("the listener of lost connections failed for member {}", peerId, e);
            }
        }
    }

    static void closeQuietly(Closeable closeable) {
        if (closeable != null) {
            try {
                closeable.close();
            } catch (IOException e) {
                // Nothing to do about a connection that cannot even close, and nothing lost by it.
            }
        }
    }

    // ---------------------------------------------------------------------------------------- sending

    private void enqueue(Member target, Object message) {
        // Transport's contract: nothing reaches the caller, whatever goes wrong here.
        try {
            if (closed || target.id() == local.id()) {
                return;
            }
            if (faults.loses(target.id(), message)) {
                droppedByFaults.increment();
                return;
            }
            Runnable offer = () -> peers.computeIfAbsent(target.id(), id -> new OutboundPeer(this, target).start())
                    .offer(target, message);
            afterInjectedDelay(target.id(), offer);
        } catch (RuntimeException e) {
            LOG.error("cannot queue a message for {}", target, e);
        }
    }

    // -------------------------------------------------------------------------------------- receiving

    private void acceptLoop(ServerSocket server) {
        while (!closed) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                if (server.isClosed()) {
                    return;
                }
                // Typically out of file descriptors: pause rather than spin, as connections are not drained.
                LOG.warn("cannot accept peer connections on {}: {}", server.getLocalSocketAddress(), e.toString());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            inboundSockets.add(socket);
            // close() may have swept inboundSockets just before the add: then this connection is ours to close.
            if (closed) {
                closeQuietly(socket);
                return;
            }
            Thread reader = Thread.ofVirtual().name("metcd-" + local.id() + "-from-" + socket.getRemoteSocketAddress())
                    .unstarted(new InboundPeer(this, socket)::serve);
            readers.add(reader);
            reader.start();
        }
    }

    // ------------------------------------------------------------------------------- for InboundPeer

    String groupId() {
        return groupId;
    }

    /**
     * Registers the connection {@code peer} dialed, once its handshake is read; returns when it was last heard from,
     * for its reader to keep up to date.
     */
    AtomicLong connected(Handshake.Peer peer, Socket socket) {
        int peerId = peer.memberId();
        clientUrls.put(peerId, peer.clientUrl());
        AtomicLong heard = lastHeard.computeIfAbsent(peerId, id -> new AtomicLong());
        heard.set(System.nanoTime());
        // A peer dials again only when it has given up on its previous connection, which may be half-open
        // (its host vanished): closing it ends that connection's reader instead of leaving it blocked.
        closeQuietly(inboundByPeer.put(peerId, socket));
        return heard;
    }

    /** The connection's reader ends; {@code peerId} is 0 if the peer never introduced itself. */
    void disconnected(int peerId, Socket socket) {
        inboundSockets.remove(socket);
        if (peerId > 0) {
            inboundByPeer.remove(peerId, socket);
            connectionLost(peerId);
        }
        readers.remove(Thread.currentThread());
    }

    /** Hands a message that arrived from {@code peerId} to {@link #inbound}, after the delay injected on its link. */
    void received(Object message, int peerId) {
        afterInjectedDelay(peerId, () -> deliver(message, peerId));
    }

    private void deliver(Object message, int peerId) {
        try {
            inbound.accept(message);
        } catch (RuntimeException e) {
            LOG.error("inbound handler failed on a {} from member {}", message.getClass().getSimpleName(), peerId, e);
        }
    }

    /** Runs {@code action} now, or after the delay injected on the link with {@code peerId}. */
    private void afterInjectedDelay(int peerId, Runnable action) {
        Duration delay = faults.delay(peerId);
        if (delay.isZero()) {
            action.run();
            return;
        }
        ScheduledExecutorService scheduler;
        synchronized (this) {
            if (delayed == null) {
                // One thread keeps the messages of a link in order, as they all wait the same time.
                delayed = Executors.newSingleThreadScheduledExecutor(
                        Thread.ofPlatform().daemon().name("metcd-" + local.id() + "-delayed-messages").factory());
            }
            scheduler = delayed;
        }
        scheduler.schedule(() -> {
            if (!closed) {
                action.run();
            }
        }, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    private static Duration remaining(long deadline) {
        return Duration.ofNanos(Math.max(0, deadline - System.nanoTime()));
    }
}
