package io.metcd.resp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.redis.FixedRedisMessagePool;
import io.netty.handler.codec.redis.RedisDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Redis protocol server: RESP2 and RESP3 over TCP, for redis-cli, redis-benchmark and Redis client libraries,
 * onto a {@link Keyspace} and a {@link ClusterAdmin}.
 * <p>
 * Netty serves the connections: its event loops read and write every socket (a few threads for any number of
 * connections), and its {@link RedisDecoder} frames the byte stream, bulk strings arriving in chunks after their
 * length, so that {@link CommandAssembler} can refuse an oversized one before reading it. Each connection's
 * {@link Connection} runs its commands pipelined and answers them in order. Nothing on an event loop blocks: the
 * store's calls return futures.
 */
public final class RespServer implements AutoCloseable {
    /** Connections served at once; one more is told so and closed (Redis's maxclients, at its default). */
    public static final int MAX_CONNECTIONS = 10_000;
    /** The longest inline command (a line typed into telnet), as in Redis. */
    static final int MAX_INLINE_BYTES = 64 * 1024;
    /**
     * Replies waiting for the socket, in bytes, above which the connection stops reading commands until they fall
     * below the low mark: a client that pipelines without reading its replies is not given unbounded memory.
     */
    private static final WriteBufferWaterMark REPLY_BUFFER = new WriteBufferWaterMark(256 * 1024, 1024 * 1024);

    private final Keyspace store;
    private final ClusterAdmin cluster;
    private final RespMetrics metrics;
    private final AtomicLong connectionIds = new AtomicLong();
    private final ChannelGroup connections = new DefaultChannelGroup("resp", GlobalEventExecutor.INSTANCE);
    private EventLoopGroup acceptor;
    private EventLoopGroup workers;
    private Channel listener;

    public RespServer(Keyspace store, ClusterAdmin cluster, RespMetrics metrics) {
        this.store = store;
        this.cluster = cluster;
        this.metrics = metrics;
    }

    /**
     * Listens on {@code host:port} (port 0: any free port, see {@link #port()}).
     *
     * @throws IllegalStateException if the port cannot be bound
     */
    public synchronized RespServer start(String host, int port) {
        acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("resp-accept", true),
                NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                new DefaultThreadFactory("resp", true), NioIoHandler.newFactory());
        ServerCommands server = new ServerCommands(store, cluster, connections::size, this::port);
        List<Commands.Spec> specs = new ArrayList<>(server.specs());
        specs.addAll(new KeyCommands(store).specs());
        Commands commands = new Commands(specs);
        ServerBootstrap bootstrap = new ServerBootstrap().group(acceptor, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, REPLY_BUFFER)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        if (connections.size() >= MAX_CONNECTIONS) {
                            channel.pipeline().addLast(new Refusal());
                            return;
                        }
                        connections.add(channel);
                        Session session = new Session(connectionIds.incrementAndGet(), channel.remoteAddress(),
                                channel.localAddress());
                        channel.pipeline().addLast(
                                new RedisDecoder(MAX_INLINE_BYTES, FixedRedisMessagePool.INSTANCE, true),
                                new CommandAssembler(commands::isKey),
                                new Connection(commands, metrics, session));
                    }
                });
        try {
            listener = bootstrap.bind(host, port).syncUninterruptibly().channel();
        } catch (RuntimeException e) {
            close();
            throw new IllegalStateException("cannot serve the Redis protocol on " + host + ":" + port + ": " + e, e);
        }
        return this;
    }

    /** The port listened on. */
    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    /** Client connections open now. */
    public int openConnections() {
        return connections.size();
    }

    /** Stops listening and closes every connection; commands in flight are carried out but not answered. */
    @Override
    public synchronized void close() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
        connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        for (EventLoopGroup group : new EventLoopGroup[] {acceptor, workers}) {
            if (group != null) {
                group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
            }
        }
    }

    /** Answers a connection over {@link #MAX_CONNECTIONS} as Redis does, and closes it. */
    private static final class Refusal extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Unpooled.copiedBuffer("-ERR max number of clients reached\r\n", StandardCharsets.UTF_8))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
