package io.metcd.chaos;

import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

/**
 * A client of the chaos workload over the Redis protocol (Jedis): pipelined batches of {@code SET}s of unique values
 * and {@code GET}s on the same registers as the HTTP clients, each batch to a node picked at random, on one
 * connection per node kept while it works. Every command is recorded as an {@link Op} spanning the whole batch, from
 * just before it is sent to just after the last answer: the checker then lets the commands of a batch take effect in
 * any order within it, which a pipeline (answered in order) only narrows.
 *
 * <p>Outcomes, as {@link RecordingClient} records the same answers over HTTP: {@code OK} and the value read are
 * {@code OK}; any error reply ({@code -TRYAGAIN no leader} is HTTP's 503) leaves a {@code SET} {@code UNKNOWN}, since
 * it may come after the write was proposed, and a {@code GET} {@code FAILED}; a connection refused before anything
 * was sent fails the batch; any other I/O error or a timeout leaves every command of the batch {@code UNKNOWN}.
 */
final class RespRecordingClient implements AutoCloseable {
    /** Longer than the server's own 5 s wait for a leader, as for {@link RecordingClient}. */
    private static final int SOCKET_TIMEOUT_MS = 7_000;
    private static final int CONNECT_TIMEOUT_MS = 1_000;
    private static final int MAX_BATCH = 8;
    private static final long BACK_OFF_MS = 100;

    private final int id;
    private final List<String> keys;
    private final int nodes;
    private final IntFunction<HostAndPort> redisOfNode;
    private final Random random;
    private final Jedis[] connections;
    private long written;

    /** @param redisOfNode where node N serves the Redis protocol */
    RespRecordingClient(int id, List<String> keys, int nodes, IntFunction<HostAndPort> redisOfNode, long seed) {
        this.id = id;
        this.keys = keys;
        this.nodes = nodes;
        this.redisOfNode = redisOfNode;
        this.random = new Random(seed);
        this.connections = new Jedis[nodes + 1];
    }

    /** Sends one pipelined batch of 1 to {@value #MAX_BATCH} commands and returns their records. */
    List<Op> next() throws InterruptedException {
        int node = 1 + random.nextInt(nodes);
        List<Command> batch = new ArrayList<>();
        for (int i = 1 + random.nextInt(MAX_BATCH); i > 0; i--) {
            String key = keys.get(random.nextInt(keys.size()));
            batch.add(new Command(key, random.nextBoolean() ? "r" + id + "-" + ++written : null));
        }
        List<Op> ops = send(node, batch);
        if (ops.stream().anyMatch(op -> op.outcome() != Op.Outcome.OK)) {
            // As a real client would, rather than spinning on a node that is down.
            Thread.sleep(BACK_OFF_MS);
        }
        return ops;
    }

    private List<Op> send(int node, List<Command> batch) {
        long invoked = System.nanoTime();
        Jedis jedis;
        try {
            jedis = connection(node);
        } catch (JedisConnectionException e) {
            return recordAll(batch, invoked, Op.Outcome.FAILED, Op.Outcome.FAILED);
        }
        List<Response<String>> answers = new ArrayList<>();
        try {
            Pipeline pipeline = jedis.pipelined();
            for (Command command : batch) {
                answers.add(command.isWrite() ? pipeline.set(command.key, command.value) : pipeline.get(command.key));
            }
            pipeline.sync();
        } catch (JedisConnectionException e) {
            close(node);
            return recordAll(batch, invoked, Op.Outcome.UNKNOWN, Op.Outcome.UNKNOWN);
        }
        long completed = System.nanoTime();
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            Command command = batch.get(i);
            try {
                String answer = answers.get(i).get();
                ops.add(command.isWrite()
                        ? Op.write(id, command.key, command.value, invoked, completed,
                                "OK".equals(answer) ? Op.Outcome.OK : Op.Outcome.UNKNOWN)
                        : Op.read(id, command.key, answer, invoked, completed, Op.Outcome.OK));
            } catch (JedisDataException e) {
                ops.add(command.record(id, invoked, completed, Op.Outcome.UNKNOWN, Op.Outcome.FAILED));
            }
        }
        return ops;
    }

    private List<Op> recordAll(List<Command> batch, long invoked, Op.Outcome write, Op.Outcome read) {
        long completed = System.nanoTime();
        return batch.stream().map(command -> command.record(id, invoked, completed, write, read)).toList();
    }

    /** The open connection to {@code node}, or a new one, connected: a refused connection throws here. */
    private Jedis connection(int node) {
        if (connections[node] == null) {
            Jedis jedis = new Jedis(redisOfNode.apply(node), DefaultJedisClientConfig.builder()
                    .connectionTimeoutMillis(CONNECT_TIMEOUT_MS).socketTimeoutMillis(SOCKET_TIMEOUT_MS).build());
            try {
                jedis.connect();
            } catch (JedisConnectionException e) {
                jedis.close();
                throw e;
            }
            connections[node] = jedis;
        }
        return connections[node];
    }

    /** Drops the connection to {@code node}: after an error its replies may be out of step with its commands. */
    private void close(int node) {
        if (connections[node] != null) {
            try {
                connections[node].close();
            } catch (RuntimeException e) {
                // A broken connection may fail to close; it is dropped either way.
            }
            connections[node] = null;
        }
    }

    @Override
    public void close() {
        for (int node = 1; node <= nodes; node++) {
            close(node);
        }
    }

    /** One command of a batch: a {@code SET} of {@code value}, or a {@code GET} when it is {@code null}. */
    private record Command(String key, String value) {
        boolean isWrite() {
            return value != null;
        }

        /** The command's record when no value was read: with {@code write}'s or {@code read}'s outcome. */
        Op record(int client, long invoked, long completed, Op.Outcome write, Op.Outcome read) {
            return isWrite() ? Op.write(client, key, value, invoked, completed, write)
                    : Op.read(client, key, null, invoked, completed, read);
        }
    }
}
