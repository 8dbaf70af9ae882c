package io.metcd;

import io.metcd.testkit.TestCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.params.SetParams;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Redis clients on a real three-node cluster: a write through one node is read through another, and the conditional
 * and read-modify-write commands are decided by the store, the same on every node. Each test works on keys of its own.
 */
class RedisNodesTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    @TempDir
    static Path dir;
    static TestCluster cluster;
    static Jedis leader;
    static Jedis follower;
    static Jedis other;

    @BeforeAll
    static void start() {
        cluster = new TestCluster(dir, 3, 1000).withRedis().start();
        int leaderId = cluster.awaitLeader();
        int[] followers = IntStream.rangeClosed(1, 3).filter(id -> id != leaderId).toArray();
        leader = jedis(leaderId);
        follower = jedis(followers[0]);
        other = jedis(followers[1]);
    }

    @AfterAll
    static void stop() {
        for (Jedis jedis : new Jedis[] {leader, follower, other}) {
            jedis.close();
        }
        cluster.close();
    }

    private static Jedis jedis(int id) {
        return new Jedis("127.0.0.1", cluster.redisPort(id), 10_000);
    }

    @Test
    void aWriteThroughOneNodeIsReadThroughAnother() {
        assertThat(follower.set("hello", "world")).isEqualTo("OK");
        assertThat(other.get("hello")).isEqualTo("world");
        assertThat(leader.get("hello")).isEqualTo("world");
        assertThat(other.exists("hello")).isTrue();
        assertThat(other.strlen("hello")).isEqualTo(5);
    }

    @Test
    void nxAndXxAreDecidedByTheStore() {
        assertThat(follower.set("nx", "first", SetParams.setParams().nx())).isEqualTo("OK");
        assertThat(other.set("nx", "second", SetParams.setParams().nx())).isNull();
        assertThat(leader.setnx("nx", "third")).isZero();
        assertThat(other.set("xx-absent", "v", SetParams.setParams().xx())).isNull();
        assertThat(leader.set("nx", "updated", SetParams.setParams().xx())).isEqualTo("OK");
        assertThat(follower.setGet("nx", "last")).isEqualTo("updated");
        assertThat(other.get("nx")).isEqualTo("last");
        assertThat(other.get("xx-absent")).isNull();
    }

    @Test
    void incrementsFromEveryNodeAddUp() {
        assertThat(follower.incr("visits")).isEqualTo(1);
        assertThat(other.incrBy("visits", 10)).isEqualTo(11);
        assertThat(leader.decr("visits")).isEqualTo(10);
        assertThat(follower.decrBy("visits", 4)).isEqualTo(6);
        assertThat(other.append("visits", "0")).isEqualTo(2);
        assertThat(leader.get("visits")).isEqualTo("60");
        follower.set("word", "abc");
        assertThatThrownBy(() -> other.incr("word")).isInstanceOf(JedisDataException.class)
                .hasMessage("ERR value is not an integer or out of range");
    }

    @Test
    void msetIsOneWriteAndDelCountsTheKeysThatExisted() {
        assertThat(follower.mset("m1", "a", "m2", "b", "m3", "c")).isEqualTo("OK");
        assertThat(other.mget("m1", "m2", "absent", "m3")).containsExactly("a", "b", null, "c");
        assertThat(leader.del("m1", "m2", "absent")).isEqualTo(2);
        assertThat(other.unlink("m3", "m1")).isEqualTo(1);
        assertThat(follower.exists("m1", "m2", "m3")).isZero();
    }

    @Test
    void aKeyWithATimeToLiveExpiresOnEveryNode() {
        follower.set("session", "alive");
        assertThat(other.expire("session", 1)).isEqualTo(1);
        assertThat(leader.ttl("session")).isBetween(0L, 1L);
        assertThat(other.expire("absent", 10)).isZero();
        follower.set("kept", "v", SetParams.setParams().px(1000));
        assertThat(other.persist("kept")).isEqualTo(1);
        assertThat(leader.ttl("kept")).isEqualTo(-1);
        for (Jedis node : new Jedis[] {leader, follower, other}) {
            await().atMost(PATIENCE).until(() -> node.get("session") == null);
        }
        assertThat(other.get("kept")).isEqualTo("v");
        assertThat(leader.ttl("session")).isEqualTo(-2);
    }

    @Test
    void pipelinedWritesAreAnsweredInOrder() {
        List<Response<Long>> answers = new ArrayList<>();
        try (Pipeline pipeline = follower.pipelined()) {
            for (int i = 0; i < 200; i++) {
                answers.add(pipeline.incr("pipelined"));
            }
            pipeline.sync();
        }
        assertThat(answers).extracting(Response::get).containsExactlyElementsOf(
                IntStream.rangeClosed(1, 200).mapToObj(Long::valueOf).toList());
        assertThat(other.get("pipelined")).isEqualTo("200");
    }

    @Test
    void keysAndScanListWhatEveryNodeHolds() {
        follower.mset("scan/1", "a", "scan/2", "b", "scan/3", "c");
        assertThat(other.keys("scan/*")).containsExactlyInAnyOrder("scan/1", "scan/2", "scan/3");
        assertThat(leader.dbSize()).isGreaterThanOrEqualTo(3);
        assertThat(other.info("replication")).contains("role:follower", "members:3");
    }
}
