package io.metcd.resp;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import static io.metcd.resp.RespFixture.read;
import static io.metcd.resp.RespFixture.resp;
import static io.metcd.resp.RespFixture.untilClosed;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The protocol itself, on raw sockets: RESP3, inline commands, QUIT, and what malformed or oversized input gets. */
class RespProtocolTest {
    @RegisterExtension
    final RespFixture fixture = new RespFixture();

    @Test
    void helloThreeSwitchesTheRepliesToResp3() throws IOException {
        Socket socket = fixture.socket();
        String answer = untilClosed(socket, "HELLO 3\r\nGET absent\r\nMGET a b\r\nCONFIG GET save\r\nHELLO 2\r\n"
                + "GET absent\r\nQUIT\r\n");
        assertThat(answer).startsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n")
                .contains("$5\r\nproto\r\n:3\r\n")
                .contains("$7\r\nmodules\r\n*0\r\n_\r\n*2\r\n_\r\n_\r\n%0\r\n*14\r\n")
                .endsWith("$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:" + clientId(answer)
                        + "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
                        + "$-1\r\n+OK\r\n");
    }

    @Test
    void aResp3ClientLibraryWorksAfterHello() {
        Jedis jedis = fixture.jedisResp3();
        assertThat(jedis.set("k", "v")).isEqualTo("OK");
        assertThat(jedis.get("k")).isEqualTo("v");
        assertThat(jedis.mget("k", "absent")).containsExactly("v", null);
        assertThat(jedis.configGet("save")).isEqualTo(Map.of());
        assertThat(jedis.clientInfo()).contains(" resp=3 ");
    }

    @Test
    void helloRefusesAnUnknownProtocolVersion() throws IOException {
        String answer = untilClosed(fixture.socket(), "HELLO 4\r\nHELLO three\r\nQUIT\r\n");
        assertThat(answer).isEqualTo("-NOPROTO unsupported protocol version\r\n"
                + "-ERR Protocol version is not an integer or out of range\r\n+OK\r\n");
    }

    @Test
    void inlineCommandsAreSplitAsRedisSplitsThem() throws IOException {
        String answer = untilClosed(fixture.socket(), "PING\r\n\r\nSET k \"a b\\x41\"\r\nGET 'k'\r\nQUIT\r\n");
        assertThat(answer).isEqualTo("+PONG\r\n+OK\r\n$4\r\na bA\r\n+OK\r\n");
    }

    @Test
    void quitAnswersWhatCameBeforeItAndCloses() throws IOException {
        String answer = untilClosed(fixture.socket(), resp("SET", "k", "v") + resp("GET", "k") + resp("QUIT")
                + resp("SET", "k", "after quit"));
        assertThat(answer).isEqualTo("+OK\r\n$1\r\nv\r\n+OK\r\n");
        assertThat(fixture.jedis().get("k")).isEqualTo("v");
    }

    @Test
    void aMalformedFrameClosesItsConnectionAndNoOther() throws IOException {
        Socket bystander = fixture.socket();
        bystander.getOutputStream().write(resp("SET", "k", "v").getBytes(StandardCharsets.UTF_8));
        assertThat(read(bystander, 5)).isEqualTo("+OK\r\n");

        String answer = untilClosed(fixture.socket(), resp("PING") + "*1\r\n$4\r\nPINGxx\r\n" + resp("PING"));
        assertThat(answer).startsWith("+PONG\r\n-ERR Protocol error: ").endsWith("\r\n").doesNotContain("PONG\r\n+");

        bystander.getOutputStream().write(resp("GET", "k").getBytes(StandardCharsets.UTF_8));
        assertThat(read(bystander, 7)).isEqualTo("$1\r\nv\r\n");
    }

    @Test
    void framesThatAreNotCommandsAreProtocolErrors() throws IOException {
        assertThat(untilClosed(fixture.socket(), "+OK\r\n")).startsWith("-ERR Protocol error: expected '*'");
        assertThat(untilClosed(fixture.socket(), "*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nk\r\n"))
                .startsWith("-ERR Protocol error: expected '$' in a command");
        assertThat(untilClosed(fixture.socket(), "*2\r\n$3\r\nGET\r\n$-1\r\n"))
                .startsWith("-ERR Protocol error: expected '$' in a command");
        assertThat(untilClosed(fixture.socket(), "*x\r\n")).startsWith("-ERR Protocol error: ");
        assertThat(untilClosed(fixture.socket(), "SET k \"unbalanced\r\n"))
                .isEqualTo("-ERR Protocol error: unbalanced quotes in request\r\n");
    }

    @Test
    void aValueOverOneMebibyteIsRefusedBeforeItIsSent() throws IOException {
        Socket socket = fixture.socket();
        // only the length: the server must answer without waiting for the value
        String answer = untilClosed(socket, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + (CommandAssembler.MAX_VALUE_BYTES + 1)
                + "\r\n");
        assertThat(answer).isEqualTo("-ERR value too large\r\n");
    }

    @Test
    void aValueOfOneMebibyteIsTaken() {
        Jedis jedis = fixture.jedis();
        String largest = "v".repeat(CommandAssembler.MAX_VALUE_BYTES);
        assertThat(jedis.set("k", largest)).isEqualTo("OK");
        assertThat(jedis.get("k")).isEqualTo(largest);
    }

    @Test
    void keysTooLongAreSkippedUnheldAndTheConnectionGoesOn() throws IOException {
        String longKey = "k".repeat(CommandAssembler.MAX_VALUE_BYTES);
        // five keys of 1 MiB: held, they would pass the command's 4 MiB and close the connection
        String[] del = {"DEL", longKey, longKey, longKey, longKey, longKey};
        String answer = untilClosed(fixture.socket(), resp(del) + resp("MSET", "a", "1", longKey, "2")
                + resp("GET", "a") + resp("QUIT"));
        assertThat(answer).isEqualTo("-ERR key too large\r\n-ERR key too large\r\n$-1\r\n+OK\r\n");
    }

    @Test
    void tooManyArgumentsAreRefusedBeforeTheyAreSent() throws IOException {
        assertThat(untilClosed(fixture.socket(), "*" + (CommandAssembler.MAX_ARGUMENTS + 1) + "\r\n"))
                .isEqualTo("-ERR Protocol error: more than " + CommandAssembler.MAX_ARGUMENTS + " arguments\r\n");
    }

    @Test
    void aCommandOverItsSizeLimitIsRefusedAtTheLengthThatPassesIt() throws IOException {
        Socket socket = fixture.socket();
        OutputStream out = socket.getOutputStream();
        String value = "v".repeat(CommandAssembler.MAX_VALUE_BYTES);
        out.write(("*11\r\n$4\r\nMSET\r\n").getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < 3; i++) {
            out.write(("$1\r\n" + i + "\r\n$" + value.length() + "\r\n" + value + "\r\n").getBytes(StandardCharsets.UTF_8));
        }
        String answer = untilClosed(socket, "$1\r\n3\r\n$" + value.length() + "\r\n");
        assertThat(answer).isEqualTo("-ERR Protocol error: command longer than " + CommandAssembler.MAX_COMMAND_BYTES
                + " bytes\r\n");
    }

    @Test
    void anInlineCommandOverItsLimitIsRefused() throws IOException {
        String answer = untilClosed(fixture.socket(), "PING " + "x".repeat(RespServer.MAX_INLINE_BYTES + 1));
        assertThat(answer).startsWith("-ERR Protocol error: ");
    }

    @Test
    void openConnectionsAreCounted() throws IOException {
        Socket first = fixture.socket();
        fixture.socket();
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.metrics.open.get() == 2);
        assertThat(fixture.server.openConnections()).isEqualTo(2);
        first.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> fixture.metrics.open.get() == 1);
    }

    private static String clientId(String helloAnswer) {
        int at = helloAnswer.indexOf("$2\r\nid\r\n:") + "$2\r\nid\r\n:".length();
        return helloAnswer.substring(at, helloAnswer.indexOf("\r\n", at));
    }
}
