package io.metcd.kv;

import io.metcd.raft.Commit;
import io.metcd.raft.Operation.Proposal;
import io.metcd.raft.PendingWrite;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What every engine must do, whatever it stores in: one suite, run against each {@link KVStore}
 * implementation by a subclass, so that no engine drifts from the others.
 */
abstract class KVStoreContract {
    static final int LOCAL = 1;
    static final int OTHER = 2;

    BlockingQueue<PendingWrite> proposeC;
    BlockingQueue<Commit> commitC;
    AbstractKVStore store;
    Thread applier;

    /** A fresh, empty store of the engine under test. */
    abstract AbstractKVStore newStore(int localId, BlockingQueue<PendingWrite> proposeC, BlockingQueue<Commit> commitC);

    @BeforeEach
    void startApplier() {
        proposeC = new ArrayBlockingQueue<>(4);
        commitC = new ArrayBlockingQueue<>(16);
        store = newStore(LOCAL, proposeC, commitC);
        applier = Thread.ofVirtual().start(store::readCommits);
    }

    @AfterEach
    void stopApplier() throws InterruptedException {
        applier.interrupt();
        applier.join();
        store.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    void commit(Commit c) throws InterruptedException {
        commitC.put(c);
        assertThat(store.awaitApplied(c.index(), Duration.ofSeconds(5))).isTrue();
    }

    @Test
    void anAppliedPutIsVisibleToLookup() throws Exception {
        commit(new Commit.Apply(1, List.of(new Proposal(OTHER, 1, "k", bytes("v")))));
        assertThat(store.lookup("k")).isEqualTo(bytes("v"));
        assertThat(store.lookup("absent")).isNull();
    }

    @Test
    void anAppliedDeleteRemovesTheKey() throws Exception {
        commit(new Commit.Apply(1, List.of(new Proposal(OTHER, 1, "k", bytes("v")))));
        commit(new Commit.Apply(2, List.of(new Proposal(OTHER, 2, "k", null))));
        assertThat(store.lookup("k")).isNull();
    }

    @Test
    void writesInOneBatchApplyInOrder() throws Exception {
        commit(new Commit.Apply(1, List.of(new Proposal(OTHER, 1, "k", bytes("a")),
                new Proposal(OTHER, 2, "k", bytes("b")), new Proposal(OTHER, 3, "j", bytes("c")))));
        assertThat(store.lookup("k")).isEqualTo(bytes("b"));
        assertThat(store.lookup("j")).isEqualTo(bytes("c"));
    }

    @Test
    void theAppliedIndexFollowsEveryKindOfCommit() throws Exception {
        commit(new Commit.Apply(3, List.of(new Proposal(OTHER, 1, "k", bytes("v")))));
        assertThat(store.appliedIndex()).isEqualTo(3);
        commit(new Commit.Advance(4));
        assertThat(store.appliedIndex()).isEqualTo(4);
    }

    @Test
    void aLocalProposalGoesToProposeCAndCompletesWhenApplied() throws Exception {
        CompletableFuture<Long> applied = store.propose("k", bytes("v"));
        PendingWrite write = proposeC.take();
        assertThat(write.proposal().origin()).isEqualTo(LOCAL);
        assertThat(write.proposal().key()).isEqualTo("k");
        assertThat(applied).isNotDone();
        commitC.put(new Commit.Apply(7, List.of(write.proposal())));
        assertThat(applied.get()).isEqualTo(7);
    }

    @Test
    void anotherNodesProposalWithTheSameSequenceDoesNotAnswerALocalClient() throws Exception {
        CompletableFuture<Long> applied = store.propose("k", bytes("v"));
        Proposal mine = proposeC.take().proposal();
        commit(new Commit.Apply(1, List.of(new Proposal(OTHER, mine.seq(), "k", bytes("other")))));
        assertThat(applied).isNotDone();
    }

    @Test
    void aProposalIsRejectedAtOnceWhenProposeCIsFull() {
        for (int i = 0; i < 4; i++) {
            store.propose("k" + i, bytes("v"));
        }
        CompletableFuture<Long> overflow = store.propose("k", bytes("v"));
        assertThat(overflow).isCompletedExceptionally();
        assertThat(overflow.exceptionNow()).isInstanceOf(ProposalRejectedException.class);
    }

    @Test
    void aSnapshotRecoversTheSameStateInAnotherStore() throws Exception {
        for (int i = 0; i < 2000; i++) {
            commitC.put(new Commit.Apply(i + 1, List.of(new Proposal(OTHER, i, "key" + i, new byte[1024]))));
        }
        commit(new Commit.Apply(2001, List.of(new Proposal(OTHER, 2001, "key5", null))));
        List<byte[]> chunks = store.snapshot();
        assertThat(chunks).hasSizeGreaterThan(1);

        BlockingQueue<Commit> otherCommitC = new ArrayBlockingQueue<>(4);
        AbstractKVStore other = newStore(OTHER, new ArrayBlockingQueue<>(4), otherCommitC);
        Thread otherApplier = Thread.ofVirtual().start(other::readCommits);
        try {
            other.recoverFromSnapshot(chunks);
            assertThat(other.lookup("key1999")).hasSize(1024);
            assertThat(other.lookup("key5")).isNull();
            assertThat(other.snapshot()).containsExactlyElementsOf(chunks);
        } finally {
            otherApplier.interrupt();
            other.close();
        }
    }

    @Test
    void aRestoreCommitReplacesTheWholeState() throws Exception {
        commit(new Commit.Apply(1, List.of(new Proposal(OTHER, 1, "a", bytes("1")))));
        List<byte[]> atOne = store.snapshot();
        commit(new Commit.Apply(2, List.of(new Proposal(OTHER, 2, "b", bytes("2")))));
        commit(new Commit.Restore(10, atOne));
        assertThat(store.lookup("a")).isEqualTo(bytes("1"));
        assertThat(store.lookup("b")).isNull();
        assertThat(store.appliedIndex()).isEqualTo(10);
    }

    @Test
    void anEmptyStoreStillSnapshotsToOneChunk() {
        assertThat(store.snapshot()).hasSize(1);
    }

    @Test
    void readersWaitingForAnIndexAreReleasedWhenItIsApplied() throws Exception {
        CompletableFuture<Boolean> reader = CompletableFuture.supplyAsync(() -> {
            try {
                return store.awaitApplied(5, Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        commitC.put(new Commit.Advance(5));
        await().until(reader::isDone);
        assertThat(reader.get()).isTrue();
    }
}
