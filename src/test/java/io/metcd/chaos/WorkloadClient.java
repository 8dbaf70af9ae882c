package io.metcd.chaos;

import io.metcd.testkit.ProcessCluster;

import java.util.ArrayList;
import java.util.List;

/** One client of a {@link ChaosRun}'s workload: it issues operations one at a time (or a batch) and records them. */
interface WorkloadClient extends AutoCloseable {
    /** Issues the next operation, or batch, and returns its records. */
    List<Op> next() throws InterruptedException;

    /** Releases what the client holds (its connections). */
    @Override
    default void close() {
    }

    /**
     * The clients of a run, numbered from 1: {@code settings.clients()} HTTP clients of reads and writes on the
     * {@code registers}, {@code settings.respClients()} Redis-protocol clients of the same registers, then
     * {@code settings.casClients()} HTTP compare-and-swap clients on the {@code casKeys}.
     */
    static List<WorkloadClient> all(ChaosRun.Settings settings, ProcessCluster cluster, List<String> registers,
            List<String> casKeys) {
        List<WorkloadClient> clients = new ArrayList<>();
        int nodes = cluster.size();
        for (int c = 1; c <= settings.clients(); c++) {
            RecordingClient client = new RecordingClient(c, registers, nodes, cluster::clientUrl, settings.seed() + c);
            clients.add(() -> List.of(client.next()));
        }
        for (int c = settings.clients() + 1; c <= settings.clients() + settings.respClients(); c++) {
            RespRecordingClient client = new RespRecordingClient(c, registers, nodes, cluster::redisAddress,
                    settings.seed() + c);
            clients.add(new WorkloadClient() {
                @Override
                public List<Op> next() throws InterruptedException {
                    return client.next();
                }

                @Override
                public void close() {
                    client.close();
                }
            });
        }
        int firstCas = settings.clients() + settings.respClients() + 1;
        for (int c = firstCas; c < firstCas + settings.casClients(); c++) {
            CasRecordingClient client = new CasRecordingClient(c, casKeys, nodes, cluster::clientUrl,
                    settings.seed() + c);
            clients.add(client::next);
        }
        return clients;
    }
}
