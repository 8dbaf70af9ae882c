package io.metcd.raft;

import io.metcd.kv.MapKVStore;
import io.metcd.metrics.Metrics;
import io.metcd.model.Command;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class KvStateMachineTest {
    private final Channel<Commit> commitC = new Channel<>(100);
    private final AtomicInteger snapshotsAsked = new AtomicInteger();
    private final FailStop noFailure = new FailStop(Path.of("."), failure -> {
        throw new AssertionError("the node was stopped", failure);
    });
    private final KvStateMachine machine = new KvStateMachine(commitC.sender(),
            new MapKVStore(1, true, new Channel<Operation.Proposal>(1).sender(), commitC.receiver(), noFailure), null, () -> 1, new Metrics(), 100,
            snapshotsAsked::incrementAndGet, noFailure);

    @Test
    void aSnapshotIsAskedForEverySnapshotCountClientWritesHoweverTheyAreGrouped() {
        machine.runOperation(1, batchOf(60));
        assertThat(snapshotsAsked).hasValue(0);

        machine.runOperation(2, batchOf(60));
        assertThat(snapshotsAsked).hasValue(1);

        machine.runOperation(3, batchOf(60));
        machine.runOperation(4, new Operation.NewTerm(2));
        assertThat(snapshotsAsked).hasValue(1);
        machine.runOperation(5, batchOf(40));
        assertThat(snapshotsAsked).hasValue(2);
    }

    @Test
    void committedBatchesReachTheStoreInOrder() {
        machine.runOperation(1, batchOf(2));
        machine.runOperation(2, new Operation.NewTerm(2));

        List<Commit> published = new ArrayList<>();
        commitC.receiver().drainTo(published, 100);
        assertThat(published).extracting(Commit::index).containsExactly(1L, 2L);
        assertThat(published.get(0)).isInstanceOf(Commit.Apply.class);
        assertThat(published.get(1)).isEqualTo(new Commit.TermStarted(2, 2));
    }

    private static Operation.Batch batchOf(int writes) {
        return new Operation.Batch(0, IntStream.range(0, writes)
                .mapToObj(i -> new Operation.Proposal(1, i, Command.put("key-" + i, new byte[] {1}))).toList());
    }
}
