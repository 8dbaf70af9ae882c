package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Commit;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Result;
import io.metcd.model.StateView;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What every engine must do, whatever it stores in: one suite, run against each {@link Engine} by a
 * subclass, so that no engine drifts from the others.
 */
abstract class KVStoreContract {
    static final int LOCAL = 1;
    static final int OTHER = 2;
    static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dataDir;
    RunningStore running;
    KVStore store;

    abstract Engine engine();

    @BeforeEach
    void startApplier() {
        running = new RunningStore(engine(), dataDir, true, LOCAL);
        store = running.store;
    }

    @AfterEach
    void stopApplier() throws InterruptedException {
        running.close();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static Commit.Apply put(long index, String key, String value) {
        return new Commit.Apply(index, 0, List.of(new Proposal(OTHER, index, Command.put(key, bytes(value)))));
    }

    void commit(Commit c) throws InterruptedException {
        running.commit(c);
    }

    /** The snapshot at {@code index} of a state that holds {@code key} = {@code value} only, from a store of its own. */
    List<byte[]> snapshotOf(long index, String key, String value) throws InterruptedException {
        try (RunningStore other = new RunningStore(engine(), dataDir.resolve("snapshot-source"), true, OTHER)) {
            other.commit(put(1, key, value));
            other.commit(new Commit.MembershipChanged(index));
            return other.snapshot();
        }
    }

    @Test
    void anAppliedPutIsVisibleToLookup() throws Exception {
        commit(put(1, "k", "v"));
        assertThat(store.lookup("k")).isEqualTo(bytes("v"));
        assertThat(store.lookup("absent")).isNull();
    }

    @Test
    void anAppliedDeleteRemovesTheKey() throws Exception {
        commit(put(1, "k", "v"));
        commit(new Commit.Apply(2, 0, List.of(new Proposal(OTHER, 2, Command.delete("k")))));
        assertThat(store.lookup("k")).isNull();
    }

    @Test
    void writesInOneBatchApplyInOrder() throws Exception {
        commit(new Commit.Apply(1, 0, List.of(new Proposal(OTHER, 1, Command.put("k", bytes("a"))),
                new Proposal(OTHER, 2, Command.put("k", bytes("b"))), new Proposal(OTHER, 3, Command.put("j", bytes("c"))))));
        assertThat(store.lookup("k")).isEqualTo(bytes("b"));
        assertThat(store.lookup("j")).isEqualTo(bytes("c"));
    }

    @Test
    void theAppliedIndexFollowsEveryKindOfCommit() throws Exception {
        commit(put(3, "k", "v"));
        assertThat(store.appliedIndex()).isEqualTo(3);
        commit(new Commit.MembershipChanged(4));
        assertThat(store.appliedIndex()).isEqualTo(4);
        commit(new Commit.TermStarted(5, 2));
        assertThat(store.appliedIndex()).isEqualTo(5);
    }

    @Test
    void aCommitAtOrBelowTheAppliedIndexIsSkipped() throws Exception {
        commit(put(5, "k", "new"));
        commit(put(5, "k", "replayed"));
        commit(put(4, "k", "older"));
        commit(new Commit.MembershipChanged(6));
        assertThat(store.lookup("k")).isEqualTo(bytes("new"));
        assertThat(store.appliedIndex()).isEqualTo(6);
    }

    @Test
    void aRestoreAtOrBelowTheAppliedIndexIsSkipped() throws Exception {
        commit(put(1, "a", "1"));
        List<byte[]> atOne = running.snapshot();
        commit(put(6, "b", "2"));
        commit(new Commit.Restore(6, atOne));
        commit(new Commit.MembershipChanged(7));
        assertThat(store.lookup("b")).isEqualTo(bytes("2"));
        assertThat(store.appliedIndex()).isEqualTo(7);
    }

    @Test
    void aClientWriteGoesToProposeCAndIsAnsweredWithItsResultWhenApplied() throws Exception {
        CompletableFuture<Result> written = running.put("k", "v");
        Proposal write = running.proposeC.take();
        assertThat(write.origin()).isEqualTo(LOCAL);
        assertThat(write.command()).usingRecursiveComparison().isEqualTo(Command.put("k", bytes("v")));
        assertThat(written).isNotDone();
        running.commitC.put(new Commit.Apply(7, 0, List.of(write)));
        assertThat(written).succeedsWithin(PATIENCE).usingRecursiveComparison()
                .isEqualTo(new Result.Applied(1, null, 0));
    }

    @Test
    void aWriteIsAnsweredOnlyOnceALookupSeesIt() throws Exception {
        CompletableFuture<byte[]> seenWhenAnswered = running.put("k", "v").thenApply(i -> store.lookup("k"));
        running.commitC.put(new Commit.Apply(1, 0, List.of(running.proposeC.take())));
        assertThat(seenWhenAnswered).succeedsWithin(PATIENCE).isEqualTo(bytes("v"));
    }

    /** A new term's first entry fails the forwarded writes not applied before it: not those applied in its pass. */
    @Test
    void aForwardedWriteAppliedJustBeforeANewTermStartsIsAnswered() throws Exception {
        CompletableFuture<Result> written = running.put("k", "v");
        Proposal mine = running.proposeC.take();
        store.writeOutcomes().forwarded(mine.seq(), 2);
        running.commitC.put(new Commit.Apply(1, 0, List.of(mine)));
        running.commitC.put(new Commit.TermStarted(2, 3));
        assertThat(written).succeedsWithin(PATIENCE).isInstanceOf(Result.Applied.class);
    }

    @Test
    void anotherNodesProposalWithTheSameSequenceDoesNotAnswerALocalClient() throws Exception {
        CompletableFuture<Result> written = running.put("k", "v");
        Proposal mine = running.proposeC.take();
        commit(new Commit.Apply(1, 0, List.of(new Proposal(OTHER, mine.seq(), Command.put("k", bytes("other"))))));
        assertThat(written).isNotDone();
    }

    @Test
    void aPassOfManyLargeValuesIsAppliedWhole() throws Exception {
        byte[] mib = new byte[1 << 20];
        List<Proposal> large = IntStream.range(0, 20).mapToObj(i -> new Proposal(OTHER, i, Command.put("big" + i, mib))).toList();
        for (int i = 0; i < large.size(); i++) {
            running.commitC.put(new Commit.Apply(i + 1, 0, List.of(large.get(i))));
        }
        assertThat(store.whenApplied(large.size())).succeedsWithin(Duration.ofSeconds(30));
        for (int i = 0; i < large.size(); i++) {
            assertThat(store.lookup("big" + i)).hasSize(1 << 20);
        }
    }

    @Test
    void aSnapshotRecoversTheSameStateInAnotherStore() throws Exception {
        for (int i = 0; i < 2000; i++) {
            running.commitC.put(new Commit.Apply(i + 1, 0, List.of(new Proposal(OTHER, i, Command.put("key" + i, new byte[1024])))));
        }
        commit(new Commit.Apply(2001, 0, List.of(new Proposal(OTHER, 2001, Command.delete("key5")))));
        List<byte[]> chunks = running.snapshot();
        assertThat(chunks).hasSizeGreaterThan(1);

        try (RunningStore other = new RunningStore(engine(), dataDir.resolve("other"), true, OTHER)) {
            other.commit(new Commit.Restore(2001, chunks));
            assertThat(other.store.lookup("key1999")).hasSize(1024);
            assertThat(other.store.lookup("key5")).isNull();
            assertThat(other.store.appliedIndex()).isEqualTo(2001);
            assertThat(other.snapshot()).containsExactlyElementsOf(chunks);
        }
    }

    @Test
    void aRestoreCommitReplacesTheWholeState() throws Exception {
        commit(put(1, "b", "2"));
        commit(new Commit.Restore(10, snapshotOf(10, "a", "1")));
        assertThat(store.lookup("a")).isEqualTo(bytes("1"));
        assertThat(store.lookup("b")).isNull();
        assertThat(store.appliedIndex()).isEqualTo(10);
    }

    /** Chunks of the wrong snapshot are a fault of the node's own: its applier stops, which stops the node. */
    @Test
    void aSnapshotOfAnotherIndexIsNotInstalled() throws Exception {
        running.commitC.put(new Commit.Restore(10, snapshotOf(9, "a", "1")));
        await().atMost(PATIENCE).until(() -> !store.applying());
        assertThat(store.lookup("a")).isNull();
    }

    @Test
    void anEmptyStoresSnapshotIsAsSmallAsTheStoreSays() throws Exception {
        assertThat(running.snapshot()).singleElement()
                .satisfies(chunk -> assertThat((long) chunk.length).isEqualTo(store.emptySnapshotBytes()));
    }

    /** The writes keep going while the view is read, on another thread, as a node's snapshot writer reads it. */
    @Test
    void aViewHoldsTheStateAtItsIndexWhateverIsAppliedAfterIt() throws Exception {
        int keys = 20_000;
        List<Proposal> initial = IntStream.range(0, keys)
                .mapToObj(i -> new Proposal(OTHER, i, Command.put(String.format("key%06d", i), bytes("v" + i)))).toList();
        commit(new Commit.Apply(1, 0, initial));
        List<byte[]> expected = running.snapshot();
        StateView view = running.view();
        CompletableFuture<List<byte[]>> written = CompletableFuture.supplyAsync(() -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (view) {
                view.writeTo(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return RunningStore.chunks(out.toByteArray());
        });
        Random random = new Random(7);
        for (int index = 2; index < 200; index++) {
            List<Proposal> changes = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                String key = String.format("key%06d", random.nextInt(keys + 1000));
                changes.add(new Proposal(OTHER, i,
                        random.nextBoolean() ? Command.delete(key) : Command.put(key, bytes("changed" + index))));
            }
            running.commitC.put(new Commit.Apply(index, index, changes));
        }
        assertThat(written).succeedsWithin(PATIENCE).satisfies(chunks -> assertThat(chunks).hasSameSizeAs(expected)
                .zipSatisfy(expected, (actual, wanted) -> assertThat(actual).isEqualTo(wanted)));
    }

    /** Every kind of command that can make a snapshot larger, and some that cannot. */
    @Test
    void aSnapshotIsNeverLargerThanTheBoundOfTheWritesThatMadeIt() throws Exception {
        List<Command> commands = List.of(Command.put("k\u00e9y", bytes("value")),
                Command.put("k\u00e9y", bytes("longer value")), Command.put("gone", bytes("x")), Command.delete("gone"),
                new Command.Increment("count", 99), new Command.Increment("count", 1),
                new Command.Append("log", bytes("one")), new Command.Append("log", bytes("two")),
                new Command.PutAll(List.of(new Command.KeyValue("a", bytes("1")), new Command.KeyValue("b", bytes("2")))),
                new Command.Expire("a", 60_000), new Command.Persist("a"));
        List<Proposal> writes = IntStream.range(0, commands.size())
                .mapToObj(i -> new Proposal(OTHER, i + 1, commands.get(i))).toList();
        commit(new Commit.Apply(1, 1_000, writes));
        long size = running.snapshot().stream().mapToLong(c -> c.length).sum();
        assertThat(size).isLessThanOrEqualTo(store.emptySnapshotBytes() + store.snapshotGrowthBound(writes));
    }

    @Test
    void readersWaitingForAnIndexAreReleasedWhenItIsApplied() throws Exception {
        CompletableFuture<Long> reader = store.whenApplied(5);
        assertThat(reader).isNotDone();

        running.commitC.put(new Commit.MembershipChanged(5));

        assertThat(reader).succeedsWithin(Duration.ofSeconds(10)).isEqualTo(5L);
    }

    @Test
    void theStoreNamesItsEngine() {
        assertThat(store.engine()).isEqualTo(engine().name());
    }
}
