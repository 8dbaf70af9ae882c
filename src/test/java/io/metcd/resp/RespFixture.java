package io.metcd.resp;

import io.metcd.testkit.Ports;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.RedisProtocol;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.util.SafeEncoder;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A {@link RespServer} over a {@link FakeStore} on a free port, with the clients the tests talk to it through: a test
 * class's {@code @RegisterExtension} field, so that each test gets its own, closed after it.
 */
final class RespFixture implements AfterEachCallback, AutoCloseable {
    final FakeStore store = new FakeStore();
    final CountingMetrics metrics = new CountingMetrics();
    final RespServer server = new RespServer(store, store, metrics).start("127.0.0.1", Ports.free());
    private final List<AutoCloseable> clients = new ArrayList<>();

    Jedis jedis() {
        return remember(new Jedis("127.0.0.1", server.port(), 10_000));
    }

    /** A Jedis client that says {@code HELLO 3} when it connects and reads RESP3 from then on. */
    Jedis jedisResp3() {
        return remember(new Jedis("127.0.0.1", server.port(),
                DefaultJedisClientConfig.builder().protocol(RedisProtocol.RESP3).socketTimeoutMillis(10_000).build()));
    }

    Socket socket() {
        try {
            Socket socket = new Socket("127.0.0.1", server.port());
            socket.setSoTimeout(10_000);
            return remember(socket);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private <T extends AutoCloseable> T remember(T client) {
        clients.add(client);
        return client;
    }

    /** A command Jedis has no method for (metcd's own, or one used with arguments Jedis would not send). */
    static ProtocolCommand command(String name) {
        byte[] raw = SafeEncoder.encode(name);
        return () -> raw;
    }

    /** The error message (without its '-') that {@code call} fails with. */
    static String error(Supplier<?> call) {
        List<String> message = new ArrayList<>();
        assertThatThrownBy(() -> call.get()).isInstanceOfSatisfying(JedisDataException.class,
                e -> message.add(e.getMessage()));
        return message.get(0);
    }

    /** Sends {@code request} as is and reads what comes back until the server closes the connection. */
    static String untilClosed(Socket socket, String request) throws IOException {
        socket.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
        socket.getOutputStream().flush();
        return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** Reads exactly {@code length} bytes from the socket. */
    static String read(Socket socket, int length) throws IOException {
        InputStream in = socket.getInputStream();
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** A command as a RESP array of bulk strings. */
    static String resp(String... args) {
        StringBuilder out = new StringBuilder("*").append(args.length).append("\r\n");
        for (String arg : args) {
            out.append('$').append(arg.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(arg).append("\r\n");
        }
        return out.toString();
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        close();
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable client : clients) {
            try {
                client.close();
            } catch (Exception e) {
                // a connection the server closed
            }
        }
        server.close();
        store.close();
    }

    /** Counts what the server reports. */
    static final class CountingMetrics implements RespMetrics {
        final ConcurrentMap<String, AtomicInteger> answered = new ConcurrentHashMap<>();
        final AtomicInteger open = new AtomicInteger();

        @Override
        public void answered(String command, Result result, double seconds) {
            answered.computeIfAbsent(command + " " + result, k -> new AtomicInteger()).incrementAndGet();
        }

        @Override
        public void connectionOpened() {
            open.incrementAndGet();
        }

        @Override
        public void connectionClosed() {
            open.decrementAndGet();
        }

        int count(String command, Result result) {
            AtomicInteger n = answered.get(command + " " + result);
            return n == null ? 0 : n.get();
        }
    }
}
