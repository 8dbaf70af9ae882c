package io.metcd.resp;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.params.SetParams;
import redis.clients.jedis.resps.ScanResult;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.metcd.resp.RespFixture.command;
import static io.metcd.resp.RespFixture.error;
import static org.assertj.core.api.Assertions.assertThat;

/** Every command of the contract's table, through Jedis, against a server over an in-memory store. */
class RespCommandsTest {
    @RegisterExtension
    final RespFixture fixture = new RespFixture();
    private final Jedis jedis = fixture.jedis();

    // ----------------------------------------------------------------------------------- connection and server

    @Test
    void pingAnswersPongOrItsMessage() {
        assertThat(jedis.ping()).isEqualTo("PONG");
        assertThat(jedis.ping("hello")).isEqualTo("hello");
    }

    @Test
    void echoAnswersItsArgument() {
        assertThat(jedis.echo("a b\r\nc")).isEqualTo("a b\r\nc");
    }

    @Test
    void selectTakesDatabaseZeroOnly() {
        assertThat(jedis.select(0)).isEqualTo("OK");
        assertThat(error(() -> jedis.select(1))).isEqualTo("ERR DB index is out of range");
    }

    @Test
    void clientNamesAndDescribesTheConnection() {
        assertThat(jedis.clientGetname()).isNull();
        assertThat(jedis.clientSetname("worker-1")).isEqualTo("OK");
        assertThat(jedis.clientGetname()).isEqualTo("worker-1");
        long id = jedis.clientId();
        assertThat(id).isPositive();
        assertThat(jedis.clientInfo()).contains("id=" + id + " ").contains(" name=worker-1 ").contains(" resp=2 ");
        assertThat(error(() -> jedis.clientSetname("two words")))
                .isEqualTo("ERR Client names cannot contain spaces, newlines or special characters.");
        assertThat(error(() -> jedis.sendCommand(command("CLIENT"), "NOSUCH")))
                .isEqualTo("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.");
    }

    @Test
    void commandDescribesTheTable() {
        assertThat(jedis.commandInfo("get").get("get").getArity()).isEqualTo(2);
        assertThat(jedis.commandInfo("set").get("set").getFlags()).contains("write");
        assertThat(jedis.commandInfo("mset").get("mset").getStep()).isEqualTo(2);
        assertThat(jedis.commandDocs("get").get("get").getSummary()).isNotBlank();
        assertThat((List<?>) jedis.sendCommand(command("COMMAND"))).hasSize((int) jedis.commandCount());
        assertThat(jedis.commandList()).contains("get", "set", "scan", "hello", "join", "command");
    }

    @Test
    void configGetAnswersNothing() {
        assertThat(jedis.configGet("save")).isEmpty();
    }

    @Test
    void infoDescribesServerReplicationAndKeyspace() {
        jedis.set("a", "1");
        String info = jedis.info();
        assertThat(info).contains("# Server\r\n", "redis_version:", "tcp_port:" + fixture.server.port(),
                "# Replication\r\n", "role:leader\r\n", "leader_id:1\r\n", "member_1:role=leader",
                "# Keyspace\r\n", "db0:keys=1,");
        assertThat(jedis.info("replication")).contains("role:leader").doesNotContain("# Server");
    }

    @Test
    void joinLeaveAndSnapshotChangeTheCluster() {
        assertThat(jedis.sendCommand(command("JOIN"), "4", "http://127.0.0.1:13382")).isEqualTo(bytes("OK"));
        assertThat(error(() -> jedis.sendCommand(command("JOIN"), "4", "http://127.0.0.1:13382")))
                .isEqualTo("ERR member 4 already exists");
        assertThat(error(() -> jedis.sendCommand(command("JOIN"), "zero", "http://127.0.0.1:13382")))
                .isEqualTo("ERR member id must be a positive integer, not 'zero'");
        assertThat(jedis.sendCommand(command("LEAVE"), "4")).isEqualTo(bytes("OK"));
        assertThat(error(() -> jedis.sendCommand(command("LEAVE"), "4"))).isEqualTo("ERR no member 4");
        assertThat(jedis.sendCommand(command("SNAPSHOT"))).isEqualTo(100L);
    }

    @Test
    void readonlyReadsAtTheStaleLevelUntilReadwrite() {
        jedis.get("k");
        assertThat(jedis.readonly()).isEqualTo("OK");
        jedis.get("k");
        assertThat(jedis.readwrite()).isEqualTo("OK");
        jedis.get("k");
        assertThat(fixture.store.readLevels).containsExactly(Keyspace.ReadLevel.DEFAULT, Keyspace.ReadLevel.STALE,
                Keyspace.ReadLevel.DEFAULT);
    }

    // --------------------------------------------------------------------------------------------------- reads

    @Test
    void getAnswersTheValueOrNil() {
        assertThat(jedis.get("k")).isNull();
        jedis.set("k", "v");
        assertThat(jedis.get("k")).isEqualTo("v");
    }

    @Test
    void binaryValuesComeBackByteForByte() {
        byte[] value = new byte[256];
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) i;
        }
        jedis.set(bytes("bin"), value);
        assertThat(jedis.get(bytes("bin"))).isEqualTo(value);
    }

    @Test
    void mgetAnswersEveryKeyInOrder() {
        jedis.mset("a", "1", "c", "3");
        assertThat(jedis.mget("a", "b", "c")).containsExactly("1", null, "3");
    }

    @Test
    void existsCountsThePresentKeysAsOftenAsNamed() {
        jedis.set("a", "1");
        assertThat(jedis.exists("a", "a", "b")).isEqualTo(2);
    }

    @Test
    void strlenAndTypeDescribeAKey() {
        jedis.set("k", "four");
        assertThat(jedis.strlen("k")).isEqualTo(4);
        assertThat(jedis.strlen("absent")).isZero();
        assertThat(jedis.type("k")).isEqualTo("string");
        assertThat(jedis.type("absent")).isEqualTo("none");
    }

    @Test
    void dbsizeCountsTheKeys() {
        jedis.mset("a", "1", "b", "2");
        assertThat(jedis.dbSize()).isEqualTo(2);
    }

    @Test
    void keysAnswersTheKeysMatchingAGlob() {
        jedis.mset("user:1", "a", "user:2", "b", "user:10", "c", "other", "d");
        assertThat(jedis.keys("user:?")).containsExactlyInAnyOrder("user:1", "user:2");
        assertThat(jedis.keys("user:*")).containsExactlyInAnyOrder("user:1", "user:2", "user:10");
        assertThat(jedis.keys("*")).hasSize(4);
        assertThat(jedis.keys("[ou]ther")).containsExactly("other");
    }

    @Test
    void scanPagesThroughEveryKeyOnce() {
        List<String> pairs = new ArrayList<>();
        for (int i = 0; i < 95; i++) {
            pairs.add("key:" + i);
            pairs.add("v");
        }
        jedis.mset(pairs.toArray(String[]::new));
        jedis.set("other", "v");
        Set<String> seen = new HashSet<>();
        String cursor = ScanParams.SCAN_POINTER_START;
        int pages = 0;
        do {
            ScanResult<String> page = jedis.scan(cursor, new ScanParams().match("key:*").count(10));
            for (String key : page.getResult()) {
                assertThat(seen.add(key)).as("returned twice: %s", key).isTrue();
            }
            cursor = page.getCursor();
            pages++;
        } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        assertThat(seen).hasSize(95).allMatch(k -> k.startsWith("key:"));
        assertThat(pages).isEqualTo(10);
        assertThat(error(() -> jedis.scan("12345"))).isEqualTo("ERR invalid cursor");
    }

    // -------------------------------------------------------------------------------------------------- writes

    @Test
    void setWritesUnlessItsConditionFails() {
        assertThat(jedis.set("k", "1", SetParams.setParams().xx())).isNull();
        assertThat(jedis.set("k", "1", SetParams.setParams().nx())).isEqualTo("OK");
        assertThat(jedis.set("k", "2", SetParams.setParams().nx())).isNull();
        assertThat(jedis.set("k", "3", SetParams.setParams().xx())).isEqualTo("OK");
        assertThat(jedis.setGet("k", "4")).isEqualTo("3");
        assertThat(jedis.get("k")).isEqualTo("4");
    }

    @Test
    void setGivesATimeToLiveOrKeepsIt() {
        jedis.set("k", "v", SetParams.setParams().ex(100));
        assertThat(jedis.ttl("k")).isEqualTo(100);
        jedis.set("k", "w", SetParams.setParams().keepTtl());
        assertThat(jedis.pttl("k")).isBetween(90_000L, 100_000L);
        jedis.set("k", "x");
        assertThat(jedis.ttl("k")).isEqualTo(-1);
        jedis.set("k", "y", SetParams.setParams().px(1500));
        assertThat(jedis.pttl("k")).isBetween(1L, 1500L);
    }

    @Test
    void setRefusesBadOptions() {
        assertThat(error(() -> jedis.sendCommand(command("SET"), "k", "v", "NX", "XX"))).isEqualTo("ERR syntax error");
        assertThat(error(() -> jedis.sendCommand(command("SET"), "k", "v", "EX"))).isEqualTo("ERR syntax error");
        assertThat(error(() -> jedis.sendCommand(command("SET"), "k", "v", "EX", "0")))
                .isEqualTo("ERR invalid expire time in 'set' command");
        assertThat(error(() -> jedis.sendCommand(command("SET"), "k", "v", "EX", "soon")))
                .isEqualTo("ERR value is not an integer or out of range");
        assertThat(error(() -> jedis.sendCommand(command("SET"), "k", "v", "EX", "5", "KEEPTTL")))
                .isEqualTo("ERR syntax error");
    }

    @Test
    void setnxWritesOnlyAnAbsentKey() {
        assertThat(jedis.setnx("k", "1")).isEqualTo(1);
        assertThat(jedis.setnx("k", "2")).isZero();
        assertThat(jedis.get("k")).isEqualTo("1");
    }

    @Test
    void getsetAnswersThePreviousValue() {
        assertThat(jedis.getSet("k", "1")).isNull();
        assertThat(jedis.getSet("k", "2")).isEqualTo("1");
    }

    @Test
    void msetWritesEveryPairAndTheLastOfARepeatedKey() {
        assertThat(jedis.mset("a", "1", "b", "2", "a", "3")).isEqualTo("OK");
        assertThat(jedis.mget("a", "b")).containsExactly("3", "2");
        assertThat(error(() -> jedis.sendCommand(command("MSET"), "a", "1", "b")))
                .isEqualTo("ERR wrong number of arguments for 'mset' command");
    }

    @Test
    void delAndUnlinkCountTheKeysThatExisted() {
        jedis.mset("a", "1", "b", "2", "c", "3");
        assertThat(jedis.del("a", "a", "absent")).isEqualTo(1);
        assertThat(jedis.unlink("b", "c")).isEqualTo(2);
        assertThat(jedis.dbSize()).isZero();
    }

    @Test
    void incrementsAddToAnIntegerFromZero() {
        assertThat(jedis.incr("n")).isEqualTo(1);
        assertThat(jedis.incrBy("n", 10)).isEqualTo(11);
        assertThat(jedis.decr("n")).isEqualTo(10);
        assertThat(jedis.decrBy("n", 15)).isEqualTo(-5);
    }

    @Test
    void incrementsRefuseWhatIsNotAnIntegerAndOverflow() {
        jedis.set("s", "abc");
        assertThat(error(() -> jedis.incr("s"))).isEqualTo("ERR value is not an integer or out of range");
        jedis.set("padded", " 1");
        assertThat(error(() -> jedis.incr("padded"))).isEqualTo("ERR value is not an integer or out of range");
        jedis.set("max", Long.toString(Long.MAX_VALUE));
        assertThat(error(() -> jedis.incr("max"))).isEqualTo("ERR increment or decrement would overflow");
        assertThat(error(() -> jedis.sendCommand(command("INCRBY"), "n", "1.5")))
                .isEqualTo("ERR value is not an integer or out of range");
        assertThat(error(() -> jedis.decrBy("n", Long.MIN_VALUE))).isEqualTo("ERR decrement would overflow");
        assertThat(jedis.get("max")).isEqualTo(Long.toString(Long.MAX_VALUE));
    }

    @Test
    void appendAnswersTheNewLength() {
        assertThat(jedis.append("k", "ab")).isEqualTo(2);
        assertThat(jedis.append("k", "cd")).isEqualTo(4);
        assertThat(jedis.get("k")).isEqualTo("abcd");
    }

    @Test
    void expiryCommandsSetReadAndClearATimeToLive() {
        assertThat(jedis.expire("k", 10)).isZero();
        jedis.set("k", "v");
        assertThat(jedis.ttl("k")).isEqualTo(-1);
        assertThat(jedis.expire("k", 10)).isEqualTo(1);
        assertThat(jedis.ttl("k")).isEqualTo(10);
        assertThat(jedis.pexpire("k", 60_000)).isEqualTo(1);
        assertThat(jedis.pttl("k")).isBetween(50_000L, 60_000L);
        assertThat(jedis.persist("k")).isEqualTo(1);
        assertThat(jedis.persist("k")).isZero();
        assertThat(jedis.ttl("k")).isEqualTo(-1);
        assertThat(jedis.ttl("absent")).isEqualTo(-2);
        assertThat(jedis.expire("k", -1)).isEqualTo(1);
        assertThat(jedis.exists("k")).isFalse();
        assertThat(error(() -> jedis.sendCommand(command("EXPIRE"), "k", "10", "NX")))
                .isEqualTo("ERR Unsupported option NX");
    }

    // -------------------------------------------------------------------------------------------------- errors

    @Test
    void anUnknownCommandIsNamedInItsError() {
        assertThat(error(() -> jedis.sendCommand(command("FLUSHALL"), "ASYNC")))
                .isEqualTo("ERR unknown command 'FLUSHALL', with args beginning with: 'ASYNC' ");
    }

    @Test
    void aWrongNumberOfArgumentsIsRefused() {
        assertThat(error(() -> jedis.sendCommand(command("GET")))).isEqualTo(
                "ERR wrong number of arguments for 'get' command");
        assertThat(error(() -> jedis.sendCommand(command("get"), "a", "b"))).isEqualTo(
                "ERR wrong number of arguments for 'get' command");
    }

    @Test
    void commandNamesAreCaseInsensitive() {
        assertThat(jedis.sendCommand(command("sEt"), "k", "v")).isEqualTo(bytes("OK"));
        assertThat(jedis.sendCommand(command("get"), "k")).isEqualTo(bytes("v"));
    }

    @Test
    void withoutALeaderCommandsAskTheClientToTryAgain() {
        fixture.store.leaderless = true;
        assertThat(error(() -> jedis.set("k", "v"))).isEqualTo("TRYAGAIN no leader");
        assertThat(error(() -> jedis.get("k"))).isEqualTo("TRYAGAIN no leader");
        fixture.store.leaderless = false;
        assertThat(jedis.set("k", "v")).isEqualTo("OK");
        assertThat(fixture.metrics.count("set", RespMetrics.Result.TRYAGAIN)).isEqualTo(1);
        assertThat(fixture.metrics.count("set", RespMetrics.Result.OK)).isEqualTo(1);
    }

    @Test
    void keysOverTheLimitOrEmptyOrNotUtf8AreRefused() {
        String longest = "k".repeat(Commands.MAX_KEY_BYTES);
        assertThat(jedis.set(longest, "v")).isEqualTo("OK");
        assertThat(error(() -> jedis.set(longest + "k", "v"))).isEqualTo("ERR key too large");
        assertThat(error(() -> jedis.get(""))).isEqualTo("ERR empty key");
        assertThat(error(() -> jedis.get(new byte[] {(byte) 0xff}))).isEqualTo("ERR key is not valid UTF-8");
        assertThat(jedis.ping()).isEqualTo("PONG"); // and the connection goes on
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
