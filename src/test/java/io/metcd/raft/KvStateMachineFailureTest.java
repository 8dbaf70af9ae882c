package io.metcd.raft;

import io.metcd.metrics.Metrics;
import io.metcd.model.Command;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.testkit.FailingStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * MicroRaft catches what the state machine throws: from {@code runOperation} it becomes the operation's answer and the
 * entry counts as applied, from {@code takeSnapshot} it fails the snapshot. Either way the node would go on without
 * the store behind it, so a failure there stops the node.
 */
class KvStateMachineFailureTest {
    @TempDir
    Path dir;

    @Test
    void aCommittedEntryThatCannotReachTheStoreStopsTheNode() {
        OutOfMemoryError noHeap = new OutOfMemoryError("Java heap space (injected)");
        Channel.Sender<Commit> commitC = new Channel.Sender<>() {
            @Override
            public void put(Commit commit) {
                throw noHeap;
            }

            @Override
            public boolean offer(Commit commit) {
                throw noHeap;
            }
        };
        FailStop failStop = new FailStop(dir, failure -> { });
        KvStateMachine machine = machine(commitC, new FailingStore(new Channel<Commit>(1).receiver(), 0, noHeap,
                failStop), failStop);

        assertThatThrownBy(() -> machine.runOperation(1, new Operation.Batch(0, List.of(
                new Operation.Proposal(1, 1, Command.put("k", new byte[] {1})))))).isSameAs(noHeap);
        assertThat(failStop.cause()).containsSame(noHeap);
    }

    @Test
    void aSnapshotTheStoreFailsToTakeStopsTheNode() {
        InternalError fullDisk = new InternalError("a fault occurred in an unsafe memory access operation (injected)");
        Channel<Commit> commitC = new Channel<>(16);
        FailStop failStop = new FailStop(dir, failure -> { });
        KvStateMachine machine = machine(commitC.sender(), new FailingStore(commitC.receiver(), 7, fullDisk, failStop),
                failStop);

        assertThatThrownBy(() -> machine.takeSnapshot(7, chunk -> { })).isSameAs(fullDisk);
        assertThat(failStop.cause()).containsSame(fullDisk);
    }

    /** A manual snapshot asked for while a restarted disk engine is ahead of MicroRaft's replay is only refused. */
    @Test
    void aSnapshotRefusedBecauseTheStoreIsAheadDoesNotStopTheNode() {
        Channel<Commit> commitC = new Channel<>(16);
        FailStop failStop = new FailStop(dir, failure -> { });
        KvStateMachine machine = machine(commitC.sender(),
                new FailingStore(commitC.receiver(), 9, new IllegalStateException("not reached"), failStop), failStop);

        assertThatThrownBy(() -> machine.takeSnapshot(7, chunk -> { })).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("past the snapshot index");
        assertThat(failStop.cause()).isEmpty();
    }

    private static KvStateMachine machine(Channel.Sender<Commit> commitC, FailingStore store, FailStop failStop) {
        return new KvStateMachine(commitC, store, null, () -> 1, new Metrics(), 100, () -> { }, failStop);
    }
}
