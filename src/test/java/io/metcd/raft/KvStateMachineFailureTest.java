package io.metcd.raft;

import io.metcd.metrics.Metrics;
import io.metcd.model.Command;
import io.metcd.model.Channel;
import io.metcd.model.Commit;
import io.metcd.model.FailStop;
import io.metcd.model.Operation;
import io.metcd.testkit.FailingStore;
import io.metcd.wal.SnapshotFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * MicroRaft catches what the state machine throws: from {@code runOperation} it becomes the operation's answer and the
 * entry counts as applied, from {@code takeSnapshot} it fails the snapshot. Either way the node would go on without
 * the store behind it, so a failure there stops the node. (A snapshot's state is the applier's business: see
 * {@code ApplierFailureTest}.)
 */
class KvStateMachineFailureTest {
    @TempDir
    Path dir;
    private SnapshotFiles snapshots;

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

    private KvStateMachine machine(Channel.Sender<Commit> commitC, FailingStore store, FailStop failStop) {
        snapshots = SnapshotFiles.open(dir.resolve("snap"), 4096, failStop);
        return new KvStateMachine(commitC, store, snapshots, () -> 1, new Metrics(), 100, () -> { }, failStop);
    }

    @AfterEach
    void closeSnapshots() {
        snapshots.close();
    }
}
