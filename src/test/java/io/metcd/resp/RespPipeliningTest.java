package io.metcd.resp;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static io.metcd.resp.RespFixture.read;
import static io.metcd.resp.RespFixture.resp;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Pipelining end to end: a connection's commands reach the store together, yet it gets its replies in the order it
 * sent the commands and sees its own writes, however the store's futures complete.
 */
class RespPipeliningTest {
    @RegisterExtension
    final RespFixture fixture = new RespFixture();

    @BeforeEach
    void storeAnswersOutOfOrder() {
        fixture.store.maxDelayMillis = 20; // each operation completes after 0 to 20 ms: out of order
    }

    @Test
    void pipelinedWritesReachTheStoreTogether() {
        Pipeline pipeline = fixture.jedis().pipelined();
        List<Response<String>> replies = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            replies.add(pipeline.set("key:" + i, "value:" + i));
        }
        pipeline.sync();
        assertThat(replies).allMatch(r -> r.get().equals("OK"));
        // one at a time, there would never be more than one in flight
        assertThat(fixture.store.mostInFlight.get()).isGreaterThan(100);
    }

    @Test
    void repliesComeInCommandOrderWhateverOrderTheStoreAnswersIn() {
        Pipeline pipeline = fixture.jedis().pipelined();
        List<Response<String>> gets = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            pipeline.set("key:" + i, "value:" + i);
            gets.add(pipeline.get("key:" + i));
        }
        pipeline.sync();
        for (int i = 0; i < gets.size(); i++) {
            assertThat(gets.get(i).get()).isEqualTo("value:" + i);
        }
    }

    @Test
    void aConnectionSeesItsOwnWritesInTheOrderItSentThem() {
        Pipeline pipeline = fixture.jedis().pipelined();
        List<Response<Long>> counts = new ArrayList<>();
        List<Response<String>> reads = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            counts.add(pipeline.incr("counter"));
            pipeline.set("last", Integer.toString(i));
            reads.add(pipeline.get("last"));
        }
        Response<Long> deleted = pipeline.del("counter", "last");
        Response<Long> size = pipeline.dbSize();
        pipeline.sync();
        for (int i = 0; i < 100; i++) {
            assertThat(counts.get(i).get()).isEqualTo(i + 1L);
            assertThat(reads.get(i).get()).isEqualTo(Integer.toString(i));
        }
        assertThat(deleted.get()).isEqualTo(2);
        assertThat(size.get()).isZero();
    }

    @Test
    void manyConnectionsPipelineAtOnce() throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(8);
        try {
            List<Future<List<Object>>> results = new ArrayList<>();
            for (int c = 0; c < 8; c++) {
                int client = c;
                Jedis jedis = fixture.jedis();
                results.add(clients.submit(() -> {
                    Pipeline pipeline = jedis.pipelined();
                    for (int i = 0; i < 200; i++) {
                        pipeline.set("c" + client + ":" + i, Integer.toString(i));
                        pipeline.incr("shared");
                    }
                    return pipeline.syncAndReturnAll();
                }));
            }
            for (Future<List<Object>> result : results) {
                assertThat(result.get()).hasSize(400).doesNotHaveAnyElementsOfTypes(Exception.class);
            }
        } finally {
            clients.shutdownNow();
        }
        assertThat(fixture.jedis().get("shared")).isEqualTo("1600");
    }

    @Test
    void aClientThatSendsWithoutReadingIsReadNoFurtherThanTheInFlightLimit() throws IOException {
        fixture.store.maxDelayMillis = 100;
        Socket socket = fixture.socket();
        OutputStream out = socket.getOutputStream();
        int commands = 10_000;
        int shortest = resp("SET", "key:0", "v").length();
        StringBuilder all = new StringBuilder();
        for (int i = 0; i < commands; i++) {
            all.append(resp("SET", "key:" + i, "v"));
        }
        out.write(all.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        assertThat(read(socket, 5 * commands)).isEqualTo("+OK\r\n".repeat(commands));
        // the reads that were under way when the limit was reached may overshoot it by what one read brings (64 KiB)
        assertThat(fixture.store.mostInFlight.get())
                .isBetween(Connection.MAX_IN_FLIGHT / 2, Connection.MAX_IN_FLIGHT + 65_536 / shortest);
    }
}
