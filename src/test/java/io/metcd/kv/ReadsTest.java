package io.metcd.kv;

import io.metcd.model.ProposalRejectedException;
import io.metcd.model.Unavailable;
import io.metcd.testkit.StubConsensus;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** What a read waits for at each level, with a test playing consensus (the read index) and the applier. */
class ReadsTest {
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    private final Deadlines deadlines = new Deadlines("test-deadlines", TIMEOUT);
    private final AppliedIndex applied = new AppliedIndex(0);
    private final StubConsensus consensus = new StubConsensus()
            .answeringReadIndexWith(() -> CompletableFuture.completedFuture(5L));

    @AfterEach
    void close() {
        deadlines.close();
    }

    @Test
    void aDefaultReadWaitsUntilThisNodeHasAppliedTheLeadersReadIndex() {
        CompletableFuture<Void> read = read(reads(false), ReadLevel.DEFAULT);
        applied.advance(4);
        assertThat(read).isNotDone();
        applied.advance(5);
        assertThat(read).succeedsWithin(PATIENCE);
        assertThat(consensus.readIndexesAsked).containsExactly(false);
    }

    @Test
    void aConsistentReadAsksForALinearizableReadIndex() {
        applied.advance(5);
        assertThat(read(reads(false), ReadLevel.CONSISTENT)).succeedsWithin(PATIENCE);
        assertThat(consensus.readIndexesAsked).containsExactly(true);
    }

    @Test
    void aStaleReadWaitsForNothingOnANodeThatStartedFresh() {
        assertThat(read(reads(false), ReadLevel.STALE)).succeedsWithin(PATIENCE);
        assertThat(consensus.readIndexesAsked).isEmpty();
    }

    @Test
    void aStaleReadOnARestartedNodeWaitsOnceToCatchUpWithTheLeader() {
        Reads reads = reads(true);
        CompletableFuture<Void> first = read(reads, ReadLevel.STALE);
        assertThat(first).isNotDone();
        applied.advance(5);
        assertThat(first).succeedsWithin(PATIENCE);
        assertThat(read(reads, ReadLevel.STALE)).succeedsWithin(PATIENCE);
        assertThat(consensus.readIndexesAsked).containsExactly(false);
    }

    @Test
    void aReadIndexNoLeaderCouldGiveIsAskedForAgain() {
        AtomicInteger asked = new AtomicInteger();
        consensus.answeringReadIndexWith(() -> asked.incrementAndGet() == 1
                ? CompletableFuture.failedFuture(new ProposalRejectedException("the leader changed"))
                : CompletableFuture.completedFuture(0L));
        assertThat(read(reads(false), ReadLevel.DEFAULT)).succeedsWithin(PATIENCE);
        assertThat(asked).hasValue(2);
    }

    @Test
    void aReadIndexNotConfirmedByTheDeadlineIsUnavailable() {
        consensus.answeringReadIndexWith(CompletableFuture::new);
        assertThat(read(reads(false), ReadLevel.DEFAULT)).failsWithin(PATIENCE)
                .withThrowableOfType(ExecutionException.class).havingCause().isInstanceOf(Unavailable.class)
                .withMessageContaining("leader did not confirm the read in time");
    }

    @Test
    void aNodeThatDoesNotReachTheReadIndexByTheDeadlineIsUnavailable() {
        assertThat(read(reads(false), ReadLevel.DEFAULT)).failsWithin(PATIENCE)
                .withThrowableOfType(ExecutionException.class).havingCause().isInstanceOf(Unavailable.class)
                .withMessageContaining("behind the leader");
    }

    private Reads reads(boolean restarted) {
        Reads reads = new Reads(restarted, deadlines, applied::when);
        reads.serveThrough(consensus);
        return reads;
    }

    /** {@link Reads#await} on a thread of its own. */
    private static CompletableFuture<Void> read(Reads reads, ReadLevel level) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                reads.await(level);
                done.complete(null);
            } catch (InterruptedException | RuntimeException e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }
}
