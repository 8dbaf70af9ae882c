package io.metcd.kv;

import io.metcd.model.Channel;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Unavailable;
import io.metcd.testkit.StubConsensus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client write's life, which {@link Writes} owns from proposal to answer, with a test playing the Raft loop (it
 * takes what is proposed and reports what becomes of it) and the applier.
 */
class WritesTest {
    private static final int LOCAL = 1;
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final Channel<Proposal> proposeC = new Channel<>(1);
    private final Deadlines deadlines = new Deadlines("test-deadlines", TIMEOUT);
    private final AppliedIndex applied = new AppliedIndex(0);
    private final Writes writes = new Writes(LOCAL, proposeC.sender(), deadlines, applied::when);

    WritesTest() {
        writes.serveThrough(new StubConsensus());
    }

    @AfterEach
    void close() {
        writes.close();
        deadlines.close();
    }

    @Test
    void aWriteAppliedHereIsAnsweredWithItsIndex() throws Exception {
        CompletableFuture<Long> written = write("k");
        writes.applied(proposeC.receiver().take(), 7);
        assertThat(written).succeedsWithin(PATIENCE).isEqualTo(7L);
    }

    @Test
    void aWriteThatCertainlyDidNotCommitIsProposedAgainUnderANewSequenceNumber() throws Exception {
        CompletableFuture<Long> written = write("k");
        Proposal first = proposeC.receiver().take();
        writes.failed(first.seq(), new ProposalRejectedException("not the leader"));
        Proposal again = proposeC.receiver().take();
        assertThat(again.key()).isEqualTo("k");
        assertThat(again.seq()).isNotEqualTo(first.seq());
        writes.applied(again, 3);
        assertThat(written).succeedsWithin(PATIENCE).isEqualTo(3L);
    }

    @Test
    void aWriteWhoseOutcomeIsUnknownIsNotProposedAgain() throws Exception {
        CompletableFuture<Long> written = write("k");
        writes.failed(proposeC.receiver().take().seq(), new IllegalStateException("the leader lost its quorum"));
        assertUnavailable(written, "write outcome unknown: the leader lost its quorum");
    }

    @Test
    void aWriteNotAppliedByItsDeadlineIsUnavailable() throws Exception {
        CompletableFuture<Long> written = write("k");
        proposeC.receiver().take();
        assertUnavailable(written, "write not committed in time");
    }

    @Test
    void aWriteThatFindsProposeCFullIsRefusedAtItsDeadline() throws Exception {
        proposeC.sender().put(new Proposal(LOCAL, 0, "ahead", null));
        assertUnavailable(write("k"), "too many writes in flight");
    }

    @Test
    void theLeadersWordAnswersAWriteOnceThisNodeHasAppliedItsIndex() throws Exception {
        CompletableFuture<Long> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        writes.committed(new long[] {mine.seq()}, 5);
        applied.advance(4);
        assertThat(written).isNotDone();
        // Reached by a snapshot, say: the entry itself is never applied here.
        applied.advance(9);
        assertThat(written).succeedsWithin(PATIENCE).isEqualTo(5L);
    }

    @Test
    void aWriteForwardedInAnEarlierTermIsProposedAgainOnceANewTermStarts() throws Exception {
        CompletableFuture<Long> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        writes.termStarted(2);
        assertThat(written).isNotDone();
        writes.termStarted(3);
        writes.applied(proposeC.receiver().take(), 12);
        assertThat(written).succeedsWithin(PATIENCE).isEqualTo(12L);
    }

    /** The snapshot may hold the write: proposing it again could undo a later write. */
    @Test
    void aForwardedWriteIsNotProposedAgainWhenASnapshotWasInstalledSinceItWasForwarded() throws Exception {
        CompletableFuture<Long> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        writes.snapshotInstalled();
        writes.termStarted(3);
        writes.committed(new long[] {mine.seq()}, 8);
        applied.advance(8);
        assertThat(written).succeedsWithin(PATIENCE).isEqualTo(8L);
    }

    @Test
    void aWriteOfAnotherNodeWithTheSameSequenceNumberAnswersNoClientHere() throws Exception {
        CompletableFuture<Long> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.applied(new Proposal(LOCAL + 1, mine.seq(), "k", null), 4);
        assertThat(written).isNotDone();
    }

    @Test
    void closingFailsTheWritesWaitingAndRefusesNewOnes() throws Exception {
        CompletableFuture<Long> written = write("k");
        proposeC.receiver().take();
        writes.close();
        assertUnavailable(written, "node is shutting down");
        assertUnavailable(write("j"), "node is shutting down");
    }

    /** {@link Writes#write} on a thread of its own. */
    private CompletableFuture<Long> write(String key) {
        CompletableFuture<Long> written = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                written.complete(writes.write(key, new byte[] {1}));
            } catch (InterruptedException | RuntimeException e) {
                written.completeExceptionally(e);
            }
        });
        return written;
    }

    private static void assertUnavailable(CompletableFuture<Long> written, String reason) {
        assertThat(written).failsWithin(PATIENCE).withThrowableOfType(ExecutionException.class).havingCause()
                .isInstanceOf(Unavailable.class).withMessageContaining(reason);
    }
}
