package io.metcd.http;

import io.metcd.testkit.HttpAnswer;
import io.metcd.testkit.KvClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The client port under abuse, over raw sockets where a client library would refuse to send the input. Every
 * refusal is a 4xx (or HTTP's 505 for another protocol version) with one line of plain text, never a 500, an HTML
 * page or a stack trace; and after each test the API still serves a PUT and a GET (of a fake store: this is about
 * HTTP alone). HttpApiTest covers the
 * well-formed refusals (an unknown level, an empty key, a long key or value sent by a normal client).
 */
class HttpHardeningTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);
    private static final Pattern OPEN_CONNECTIONS = Pattern.compile("(?m)^metcd_http_open_connections (\\S+)$");
    private static final AtomicInteger WRITES = new AtomicInteger();
    private static final int SLOW_PIECE_BYTES = 64 * 1024;
    private static final Duration SLOW_PIECE_GAP = Duration.ofMillis(2);

    static ApiUnderTest api;
    static KvClient client;
    static int port;

    @BeforeAll
    static void startApi() {
        api = new ApiUnderTest();
        client = api.client;
        port = api.port;
    }

    @AfterAll
    static void stopApi() {
        api.close();
    }

    @AfterEach
    void theNodeStillServesAWriteAndARead() {
        String key = "after-abuse-" + WRITES.incrementAndGet();
        assertThat(client.put(key, "fine")).returns(204, KvClient.Response::status);
        assertThat(client.get(key).body()).isEqualTo("fine");
    }

    // ------------------------------------------------------------------------------------ helpers

    private static Socket connect() throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout((int) PATIENCE.toMillis());
        return socket;
    }

    /** Sends {@code request} as it is (one byte per char) on a new connection and reads one answer. */
    private static HttpAnswer exchange(String request) throws IOException {
        try (Socket socket = connect()) {
            send(socket, request);
            return HttpAnswer.read(socket.getInputStream());
        }
    }

    private static void send(Socket socket, String bytes) throws IOException {
        socket.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** Waits until the node's answer has arrived on {@code socket}, leaving it unread. */
    private static void awaitTheAnswer(Socket socket) {
        await().atMost(PATIENCE).until(() -> socket.getInputStream().available() > 0);
    }

    /**
     * Sends {@code bytes} 64 KiB at a time, 2 ms apart, as over a link slower than loopback, reading nothing meanwhile:
     * as simple HTTP/1.1 clients do, which read the answer once they have sent the whole body.
     */
    private static void sendSlowly(Socket socket, String bytes) throws IOException {
        byte[] all = bytes.getBytes(StandardCharsets.ISO_8859_1);
        OutputStream out = socket.getOutputStream();
        for (int at = 0; at < all.length; at += SLOW_PIECE_BYTES) {
            out.write(all, at, Math.min(SLOW_PIECE_BYTES, all.length - at));
            LockSupport.parkNanos(SLOW_PIECE_GAP.toNanos());
        }
    }

    /** A refusal as the contract wants it: this status and one line of plain text, no page and no stack trace. */
    private static void assertRefused(HttpAnswer answer, int status) {
        assertThat(answer.status()).as(answer.toString()).isEqualTo(status);
        assertThat(answer.header("Content-Type")).as(answer.toString()).startsWith("text/plain");
        assertThat(answer.body()).matches("[^\r\n]+\n").doesNotContain("Exception", "<html");
    }

    /** A PUT's request line and headers, up to the blank line that ends them. */
    private static String putHead(String path, String... headers) {
        return "PUT " + path + " HTTP/1.1\r\nHost: metcd\r\n" + String.join("", headers) + "\r\n";
    }

    private static String chunk(int size) {
        return Integer.toHexString(size) + "\r\n" + "v".repeat(size) + "\r\n";
    }

    private static String header(String name, Object value) {
        return name + ": " + value + "\r\n";
    }

    /** Waits until the node holds no more client connections than {@code baseline}, idle ones included. */
    private static void awaitOpenConnectionsBackTo(int baseline, Duration within) {
        await().atMost(within).until(() -> openConnections() <= baseline);
    }

    private static int openConnections() {
        Matcher m = OPEN_CONNECTIONS.matcher(client.get("-/metrics").body());
        assertThat(m.find()).as("the open connections gauge").isTrue();
        return (int) Double.parseDouble(m.group(1));
    }

    /** Whether the node closed {@code socket}: an end of stream or a reset, after whatever it answered. */
    private static boolean closedByTheNode(Socket socket) {
        try {
            InputStream in = socket.getInputStream();
            while (in.read() >= 0) {
                // skips an answer written before closing
            }
            return true;
        } catch (SocketException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    // ----------------------------------------------------------------------------- not HTTP at all

    @ParameterizedTest
    @ValueSource(strings = {"HELLO\r\n\r\n", "GET\r\n\r\n", "GET key HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /../k HTTP/1.1\r\nHost: x\r\n\r\n", "GET /k HTTP/1.1\r\n\r\n", "GET /k HTTP/1.1\r\nno colon\r\n\r\n"})
    void aMalformedRequestLineOrHeaderAnswers400(String request) throws IOException {
        assertRefused(exchange(request), 400);
    }

    /** 505 is HTTP's own answer to these, not a server failure: Jetty's, with its one-line reason. */
    @ParameterizedTest
    @ValueSource(strings = {"GET /k HTTP/9.9\r\nHost: x\r\n\r\n", "GET /k\r\n\r\n", "GET  HTTP/1.1\r\n\r\n"})
    void anHttpVersionOtherThan1Answers505(String request) throws IOException {
        assertRefused(exchange(request), 505);
    }

    @Test
    void randomBytesAnswer400() throws IOException {
        byte[] garbage = new byte[4096];
        new Random(7).nextBytes(garbage);
        assertRefused(exchange(new String(garbage, StandardCharsets.ISO_8859_1)), 400);
    }

    @Test
    void headersOf100KBAnswer431() throws IOException {
        assertRefused(exchange("GET /k HTTP/1.1\r\nHost: metcd\r\n" + header("X-Big", "h".repeat(100_000)) + "\r\n"),
                431);
    }

    @ParameterizedTest
    @ValueSource(strings = {"FROB", "OPTIONS", "TRACE"})
    void anUnsupportedMethodAnswers405(String method) {
        assertRefused(HttpAnswer.of(client.send(method, "k", null)), 405);
    }

    @Test
    void headAnswers405RatherThanAnEmpty200() {
        assertThat(client.send("HEAD", "absent", null).status()).isEqualTo(405);
    }

    // -------------------------------------------------------------------------------------- keys

    @ParameterizedTest
    @ValueSource(strings = {"/a%zz", "/a%", "/a%4", "/%e9t%e9", "/%c3%28"})
    void aKeyWithABadPercentEncodingAnswers400(String path) throws IOException {
        assertRefused(exchange(putHead(path, header("Content-Length", 1)) + "v"), 400);
    }

    @Test
    void aLongestKeyStillFitsWithEveryBytePercentEncoded() throws IOException {
        String key = "%20".repeat(HttpApi.MAX_KEY_BYTES);
        assertThat(exchange(putHead("/" + key, header("Content-Length", 5)) + "space").status()).isEqualTo(204);
        assertThat(client.get(key).body()).isEqualTo("space");
    }

    @Test
    void aKeyTooLongForTheRequestLineAnswers413() throws IOException {
        assertRefused(exchange(putHead("/" + "k".repeat(100_000), header("Content-Length", 1)) + "v"), 413);
    }

    // ------------------------------------------------------------------------------------ bodies

    @Test
    void aDeclaredLengthOver1MiBIsRefusedBeforeTheBodyIsSent() throws IOException {
        assertRefused(exchange(putHead("/big", header("Content-Length", HttpApi.MAX_VALUE_BYTES + 1))), 413);
    }

    @Test
    void aChunkedBodyOver1MiBAnswers413() throws IOException {
        String body = chunk(HttpApi.MAX_VALUE_BYTES) + chunk(1) + "0\r\n\r\n";
        assertRefused(exchange(putHead("/big-chunked", header("Transfer-Encoding", "chunked")) + body), 413);
        assertThat(client.get("big-chunked").status()).isEqualTo(404);
    }

    @Test
    void aValueOver1MiBAnswers413ToAClientStillSendingItWhenAnswered() throws IOException {
        int size = 2 * HttpApi.MAX_VALUE_BYTES;
        try (Socket socket = connect()) {
            send(socket, putHead("/big", header("Content-Length", size)));
            awaitTheAnswer(socket);
            sendSlowly(socket, "v".repeat(size));
            assertRefused(HttpAnswer.read(socket.getInputStream()), 413);
        }
        assertThat(client.get("big").status()).isEqualTo(404);
    }

    @Test
    void aChunkedValueOver1MiBAnswers413ToAClientStillSendingItWhenAnswered() throws IOException {
        try (Socket socket = connect()) {
            send(socket, putHead("/big-chunked", header("Transfer-Encoding", "chunked"))
                    + chunk(HttpApi.MAX_VALUE_BYTES) + chunk(1));
            awaitTheAnswer(socket);
            sendSlowly(socket, chunk(HttpApi.MAX_VALUE_BYTES) + "0\r\n\r\n");
            assertRefused(HttpAnswer.read(socket.getInputStream()), 413);
        }
        assertThat(client.get("big-chunked").status()).isEqualTo(404);
    }

    @Test
    void aValueOver1MiBOfAClientWaitingFor100ContinueAnswers413AndClosesWithoutWaitingForTheBody() throws IOException {
        int baseline = openConnections();
        try (Socket socket = connect()) {
            send(socket, putHead("/big", header("Content-Length", 2 * HttpApi.MAX_VALUE_BYTES),
                    header("Expect", "100-continue")));
            InputStream in = socket.getInputStream();
            assertRefused(HttpAnswer.read(in), 413);
            assertThat(in.readAllBytes()).as("what follows the answer").isEmpty();
            // Closed by the node while this client keeps its end open, not held until the idle timeout.
            awaitOpenConnectionsBackTo(baseline, HttpApi.IDLE_TIMEOUT.dividedBy(2));
        }
    }

    @Test
    void aChunkedBodyOfExactly1MiBIsStored() throws IOException {
        String body = chunk(HttpApi.MAX_VALUE_BYTES / 2) + chunk(HttpApi.MAX_VALUE_BYTES / 2) + "0\r\n\r\n";
        assertThat(exchange(putHead("/chunked", header("Transfer-Encoding", "chunked")) + body).status()).isEqualTo(204);
        assertThat(client.get("chunked").body()).hasSize(HttpApi.MAX_VALUE_BYTES);
    }

    @Test
    void aMalformedChunkAnswers400() throws IOException {
        assertRefused(exchange(putHead("/k", header("Transfer-Encoding", "chunked")) + "zz\r\nvalue\r\n0\r\n\r\n"), 400);
    }

    @Test
    void aBodyCutShortByTheClientAnswers400() throws IOException {
        try (Socket socket = connect()) {
            send(socket, putHead("/cut", header("Content-Length", 100)) + "only ten b");
            socket.shutdownOutput();
            assertRefused(HttpAnswer.read(socket.getInputStream()), 400);
        }
        assertThat(client.get("cut").status()).isEqualTo(404);
    }

    // -------------------------------------------------------------------------- slow and gone clients

    @Test
    void clientsThatStallMidRequestAreDisconnectedAtTheIdleTimeoutWithA408IfInTheirBody() throws IOException {
        int baseline = openConnections();
        Socket inHeaders = connect();
        Socket inBody = connect();
        Socket inChunkedBody = connect();
        try {
            send(inHeaders, "GET /k HTTP/1.1\r\nHost: met");
            send(inBody, putHead("/k", header("Content-Length", 10)) + "abc");
            send(inChunkedBody, putHead("/k", header("Transfer-Encoding", "chunked")) + "a\r\nabc");
            int closeWithin = (int) HttpApi.IDLE_TIMEOUT.plus(PATIENCE).toMillis();
            for (Socket socket : List.of(inHeaders, inBody, inChunkedBody)) {
                socket.setSoTimeout(closeWithin);
                if (socket != inHeaders) {
                    assertRefused(HttpAnswer.read(socket.getInputStream()), 408);
                }
                assertThat(closedByTheNode(socket)).isTrue();
            }
        } finally {
            inHeaders.close();
            inBody.close();
            inChunkedBody.close();
        }
        awaitOpenConnectionsBackTo(baseline, PATIENCE);
    }

    @Test
    void manyConnectionsOpenedAndAbandonedAreReleasedWithoutWaitingForTheIdleTimeout() throws IOException {
        int baseline = openConnections();
        List<Socket> sockets = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                Socket socket = connect();
                sockets.add(socket);
                if (i % 2 == 0) { // headers but no body: a virtual thread blocks reading it
                    send(socket, putHead("/k", header("Content-Length", 10)));
                }
            }
            await().atMost(PATIENCE).until(() -> openConnections() >= baseline + sockets.size());
        } finally {
            for (Socket socket : sockets) {
                socket.setSoLinger(true, 0); // a reset, as from a client that crashed
                socket.close();
            }
        }
        awaitOpenConnectionsBackTo(baseline, HttpApi.IDLE_TIMEOUT.dividedBy(2));
    }
}
