package io.metcd;

import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.commands.ProtocolCommand;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.util.SafeEncoder;

import java.nio.file.Path;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * JOIN and LEAVE on a real three-node cluster: any node takes them, a follower through the leader, and each refusal
 * answers the reason the HTTP API gives for it, as an ERR (TRYAGAIN where HTTP answers 503). Each test leaves the
 * membership as it found it.
 */
class RedisMembershipTest {
    private static final ProtocolCommand JOIN = command("JOIN");
    private static final ProtocolCommand LEAVE = command("LEAVE");
    @TempDir
    static Path dir;
    static TestCluster cluster;
    static int leader;
    static int follower;
    static int other;

    @BeforeAll
    static void start() {
        cluster = new TestCluster(dir, 3, 1000).withRedis().start();
        leader = cluster.awaitLeader();
        int[] followers = IntStream.rangeClosed(1, 3).filter(id -> id != leader).toArray();
        follower = followers[0];
        other = followers[1];
    }

    @AfterAll
    static void stop() {
        cluster.close();
    }

    private static ProtocolCommand command(String name) {
        byte[] raw = SafeEncoder.encode(name);
        return () -> raw;
    }

    /** What node {@code id} replies to {@code command}: its text, or the error's. */
    private static String reply(int id, ProtocolCommand command, String... args) {
        try (Jedis node = new Jedis("127.0.0.1", cluster.redisPort(id), 30_000)) {
            return SafeEncoder.encode((byte[]) node.sendCommand(command, args));
        } catch (JedisDataException e) {
            return e.getMessage();
        }
    }

    private static String members(int id) {
        try (Jedis node = new Jedis("127.0.0.1", cluster.redisPort(id), 30_000)) {
            return node.info("replication");
        }
    }

    @Test
    void joinThroughAFollowerAddsTheMember() {
        String url = cluster.declareMember();
        int id = cluster.size();
        assertThat(reply(follower, JOIN, String.valueOf(id), url)).isEqualTo("OK");
        assertThat(members(leader)).containsPattern("member_" + id + ":role=\\w+,peer_url=" + url + ",");
        assertThat(reply(leader, LEAVE, String.valueOf(id))).isEqualTo("OK");
    }

    @Test
    void leaveThroughAFollowerRemovesTheMember() {
        String url = cluster.declareMember();
        int id = cluster.size();
        assertThat(reply(leader, JOIN, String.valueOf(id), url)).isEqualTo("OK");
        assertThat(reply(other, LEAVE, String.valueOf(id))).isEqualTo("OK");
        assertThat(members(leader)).doesNotContain("member_" + id + ":");
    }

    @Test
    void joinOfAMemberAlreadyPresentIsRefused() {
        assertThat(reply(follower, JOIN, "2", "http://127.0.0.1:1")).isEqualTo("ERR member 2 already exists");
    }

    @Test
    void joinAtThePeerUrlOfAMemberIsRefused() {
        String taken = members(leader).replaceAll("(?s).*member_2:role=\\w+,peer_url=([^,]+),.*", "$1");
        assertThat(reply(follower, JOIN, "9", taken)).isEqualTo("ERR " + taken + " is already the peer URL of member 2");
    }

    @Test
    void joinWithAMalformedPeerUrlIsRefused() {
        assertThat(reply(follower, JOIN, "9", "not a url"))
                .isEqualTo("ERR bad peer URL 'not a url': want http://host:port");
    }

    @Test
    void anIdThatIsNotAPositiveRedisIntegerIsRefused() {
        for (String id : new String[] {"zero", "0", "-3", "04", "+4", "4294967297"}) {
            assertThat(reply(follower, LEAVE, id)).as(id)
                    .isEqualTo("ERR member id must be a positive integer, not '" + id + "'");
        }
    }

    @Test
    void leaveOfAnAbsentMemberIsRefused() {
        assertThat(reply(follower, LEAVE, "9")).isEqualTo("ERR no member 9");
    }
}
