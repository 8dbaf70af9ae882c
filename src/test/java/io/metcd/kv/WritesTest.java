package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Channel;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Result;
import io.metcd.model.Unavailable;
import io.metcd.testkit.StubConsensus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A client write's life, which {@link Writes} owns from proposal to answer, with a test playing the Raft loop (it
 * takes what is proposed and reports what becomes of it) and the applier.
 */
class WritesTest {
    private static final int LOCAL = 1;
    private static final int OTHER = 2;
    private static final Result REVISION_3 = new Result.Applied(3, null, 0);
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
    void aWriteAppliedHereIsAnsweredWithItsResult() throws Exception {
        CompletableFuture<Result> written = write("k");
        writes.applied(proposeC.receiver().take(), 7, REVISION_3);
        assertThat(written).succeedsWithin(PATIENCE).isSameAs(REVISION_3);
    }

    @Test
    void aWriteThatCertainlyDidNotCommitIsProposedAgainUnderANewSequenceNumber() throws Exception {
        CompletableFuture<Result> written = write("k");
        Proposal first = proposeC.receiver().take();
        writes.failed(first.seq(), new ProposalRejectedException("not the leader"));
        Proposal again = proposeC.receiver().take();
        assertThat(again.command()).isSameAs(first.command());
        assertThat(again.seq()).isNotEqualTo(first.seq());
        writes.applied(again, 3, REVISION_3);
        assertThat(written).succeedsWithin(PATIENCE).isSameAs(REVISION_3);
    }

    @Test
    void aWriteWhoseOutcomeIsUnknownIsNotProposedAgain() throws Exception {
        CompletableFuture<Result> written = write("k");
        writes.failed(proposeC.receiver().take().seq(), new IllegalStateException("the leader lost its quorum"));
        assertUnavailable(written, "write outcome unknown: the leader lost its quorum");
    }

    @Test
    void aWriteNotAppliedByItsDeadlineIsUnavailable() throws Exception {
        CompletableFuture<Result> written = write("k");
        proposeC.receiver().take();
        assertUnavailable(written, "write not committed in time");
    }

    @Test
    void aWriteThatFindsProposeCFullIsRefusedAtItsDeadline() throws Exception {
        proposeC.sender().put(new Proposal(LOCAL, 0, Command.delete("ahead")));
        assertUnavailable(write("k"), "too many writes in flight");
    }

    @Test
    void theLeadersWordAnswersAWriteWithItsResultOnceThisNodeHasAppliedItsIndex() throws Exception {
        CompletableFuture<Result> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        Result refused = new Result.Refused(Result.Refusal.PRECONDITION_FAILED, null);
        writes.committed(new long[] {mine.seq()}, 5, List.of(refused));
        applied.advance(4);
        assertThat(written).isNotDone();
        // Reached by a snapshot, say: the entry itself is never applied here.
        applied.advance(9);
        assertThat(written).succeedsWithin(PATIENCE).isSameAs(refused);
    }

    @Test
    void theLeaderCollectsTheResultsOfAForwardedBatchOnceAllAreApplied() {
        var answered = writes.forwardedBy(OTHER, new long[] {5, 4});
        writes.applied(new Proposal(OTHER, 4, Command.delete("a")), 9, REVISION_3);
        assertThat(answered).isNotDone();
        Result second = new Result.Applied(4, null, 0);
        writes.applied(new Proposal(OTHER, 5, Command.delete("b")), 9, second);
        assertThat(answered).succeedsWithin(PATIENCE)
                .isEqualTo(new WriteOutcomes.AppliedWrites(9, List.of(second, REVISION_3)));
    }

    @Test
    void theLeaderGivesUpOnAForwardedBatchNotAppliedByTheDeadline() {
        var answered = writes.forwardedBy(OTHER, new long[] {5});
        assertThat(answered).failsWithin(PATIENCE);
    }

    @Test
    void aWriteForwardedInAnEarlierTermIsProposedAgainOnceANewTermStarts() throws Exception {
        CompletableFuture<Result> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        writes.termStarted(2);
        assertThat(written).isNotDone();
        writes.termStarted(3);
        writes.applied(proposeC.receiver().take(), 12, REVISION_3);
        assertThat(written).succeedsWithin(PATIENCE).isSameAs(REVISION_3);
    }

    /** The snapshot may hold the write: proposing it again could undo a later write. */
    @Test
    void aForwardedWriteIsNotProposedAgainWhenASnapshotWasInstalledSinceItWasForwarded() throws Exception {
        CompletableFuture<Result> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.forwarded(mine.seq(), 2);
        writes.snapshotInstalled();
        writes.termStarted(3);
        writes.committed(new long[] {mine.seq()}, 8, List.of(REVISION_3));
        applied.advance(8);
        assertThat(written).succeedsWithin(PATIENCE).isSameAs(REVISION_3);
    }

    @Test
    void aWriteOfAnotherNodeWithTheSameSequenceNumberAnswersNoClientHere() throws Exception {
        CompletableFuture<Result> written = write("k");
        Proposal mine = proposeC.receiver().take();
        writes.applied(new Proposal(OTHER, mine.seq(), Command.delete("k")), 4, REVISION_3);
        assertThat(written).isNotDone();
    }

    @Test
    void closingFailsTheWritesWaitingAndRefusesNewOnes() throws Exception {
        CompletableFuture<Result> written = write("k");
        proposeC.receiver().take();
        writes.close();
        assertUnavailable(written, "node is shutting down");
        assertUnavailable(write("j"), "node is shutting down");
    }

    /** {@link Writes#write} on a thread of its own. */
    private CompletableFuture<Result> write(String key) {
        CompletableFuture<Result> written = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                written.complete(writes.write(Command.put(key, new byte[] {1})));
            } catch (InterruptedException | RuntimeException e) {
                written.completeExceptionally(e);
            }
        });
        return written;
    }

    private static void assertUnavailable(CompletableFuture<Result> written, String reason) {
        assertThat(written).failsWithin(PATIENCE).withThrowableOfType(ExecutionException.class).havingCause()
                .isInstanceOf(Unavailable.class).withMessageContaining(reason);
    }
}
