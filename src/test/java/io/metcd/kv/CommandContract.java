package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Command.Condition;
import io.metcd.model.Command.Expiry;
import io.metcd.model.Commit;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Result;
import io.metcd.model.Result.Refusal;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What every command does and answers, on every engine: revisions, conditions, the read-modify-write commands, time to
 * live in the log's time, the leader's expiry, ranges and counts, the events a watch is fed, and all of it carried by
 * snapshots. Each command is written as a client of the store writes it, and committed in a batch stamped at a time the
 * test chooses (the leader's clock), so that nothing here depends on this machine's clock.
 */
abstract class CommandContract extends KVStoreContract {
    static final long T0 = 1_000_000;

    Result apply(Command command) throws Exception {
        return running.apply(command, T0);
    }

    Result apply(Command command, long stampMillis) throws Exception {
        return running.apply(command, stampMillis);
    }

    Record record(String key) throws InterruptedException {
        return store.read(List.of(key), ReadLevel.STALE).records().getFirst();
    }

    long revision() throws InterruptedException {
        return store.read(List.of(), ReadLevel.STALE).revision();
    }

    static Command.Put put(String key, String value, Condition condition) {
        return new Command.Put(key, bytes(value), condition, Expiry.NONE, false);
    }

    static Command.Put putFor(String key, String value, long millis) {
        return new Command.Put(key, bytes(value), Condition.NONE, Expiry.after(millis), false);
    }

    static Result applied(long revision, long number) {
        return new Result.Applied(revision, null, number);
    }

    static Result refused(Refusal refusal) {
        return new Result.Refused(refusal, null);
    }

    static void assertResult(Result actual, Result expected) {
        assertThat(actual).usingRecursiveComparison().isEqualTo(expected);
    }

    // ---------------------------------------------------------------------------------------- revisions

    @Test
    void eachChangeTakesTheNextRevisionAndKeysRecordTheirCreationChangeAndVersion() throws Exception {
        assertResult(apply(Command.put("a", bytes("1"))), applied(1, 0));
        assertResult(apply(Command.put("a", bytes("2"))), applied(2, 0));
        assertResult(apply(Command.put("b", bytes("3"))), applied(3, 0));
        assertThat(record("a")).returns(1L, Record::createRevision).returns(2L, Record::modRevision)
                .returns(2L, Record::version).returns(0L, Record::expiresAt);
        assertThat(record("b")).returns(3L, Record::createRevision).returns(3L, Record::modRevision)
                .returns(1L, Record::version);
        assertThat(revision()).isEqualTo(3);
    }

    @Test
    void aKeyDeletedAndWrittenAgainIsCreatedAgain() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("a", bytes("2")));
        assertResult(apply(Command.delete("a")), applied(3, 1));
        apply(Command.put("a", bytes("3")));
        assertThat(record("a")).returns(4L, Record::createRevision).returns(1L, Record::version);
    }

    @Test
    void aCommandThatChangesNothingTakesNoRevision() throws Exception {
        apply(Command.put("a", bytes("1")));
        assertResult(apply(Command.delete("absent")), applied(1, 0));
        assertResult(apply(new Command.Persist("a")), applied(1, 0));
        assertResult(apply(new Command.Expire("absent", 1000)), applied(1, 0));
        assertResult(apply(Command.put("b", bytes("2"))), applied(2, 0));
    }

    // ---------------------------------------------------------------------------------------- conditions

    @Test
    void aCreateAppliesOnlyToAnAbsentKey() throws Exception {
        assertResult(apply(put("lock", "me", Condition.ABSENT)), applied(1, 0));
        assertResult(apply(put("lock", "you", Condition.ABSENT)), refused(Refusal.PRECONDITION_FAILED));
        assertThat(running.lookup("lock")).isEqualTo("me");
        assertThat(revision()).isEqualTo(1);
    }

    @Test
    void aWriteIfPresentAppliesOnlyToAnExistingKey() throws Exception {
        assertResult(apply(put("k", "v", Condition.PRESENT)), refused(Refusal.PRECONDITION_FAILED));
        assertThat(running.lookup("k")).isNull();
        apply(Command.put("k", bytes("v")));
        assertResult(apply(put("k", "w", Condition.PRESENT)), applied(2, 0));
    }

    @Test
    void aCompareAndSwapAppliesOnlyAtTheKeysModRevision() throws Exception {
        apply(Command.put("k", bytes("v1")));
        apply(Command.put("other", bytes("x")));
        assertResult(apply(put("k", "v2", Condition.modRevision(1))), applied(3, 0));
        assertResult(apply(put("k", "v3", Condition.modRevision(1))), refused(Refusal.PRECONDITION_FAILED));
        assertResult(apply(put("absent", "v", Condition.modRevision(1))), refused(Refusal.PRECONDITION_FAILED));
        assertThat(running.lookup("k")).isEqualTo("v2");
    }

    @Test
    void aConditionalDeleteAppliesOnlyAtTheKeysModRevision() throws Exception {
        apply(Command.put("k", bytes("v")));
        Command.Delete stale = new Command.Delete(List.of("k"), Condition.modRevision(7));
        assertResult(apply(stale), refused(Refusal.PRECONDITION_FAILED));
        assertResult(apply(new Command.Delete(List.of("k"), Condition.modRevision(1))), applied(2, 1));
        assertThat(running.lookup("k")).isNull();
    }

    @Test
    void aWriteAskingForThePreviousValueGetsItWhetherItAppliesOrNot() throws Exception {
        Command.Put getSet = new Command.Put("k", bytes("new"), Condition.NONE, Expiry.NONE, true);
        assertResult(apply(getSet), applied(1, 0));
        assertResult(apply(getSet), new Result.Applied(2, bytes("new"), 0));
        Command.Put createOrGet = new Command.Put("k", bytes("other"), Condition.ABSENT, Expiry.NONE, true);
        assertResult(apply(createOrGet), new Result.Refused(Refusal.PRECONDITION_FAILED, bytes("new")));
    }

    // ------------------------------------------------------------------------------- read-modify-write

    @Test
    void anIncrementCountsFromZeroAndAnswersTheNewValue() throws Exception {
        assertResult(apply(new Command.Increment("n", 5)), applied(1, 5));
        assertResult(apply(new Command.Increment("n", -7)), applied(2, -2));
        assertThat(running.lookup("n")).isEqualTo("-2");
    }

    @Test
    void anIncrementOfSomethingOtherThanADecimalIntegerIsRefused() throws Exception {
        for (String notAnInteger : List.of("abc", " 1", "01", "+1", "-0", "1.5", "", "99999999999999999999")) {
            apply(Command.put("n", bytes(notAnInteger)));
            assertResult(apply(new Command.Increment("n", 1)), refused(Refusal.NOT_AN_INTEGER));
        }
        assertThat(revision()).isEqualTo(8);
    }

    @Test
    void anIncrementPastTheSigned64BitRangeIsRefused() throws Exception {
        apply(Command.put("n", bytes(Long.toString(Long.MAX_VALUE))));
        assertResult(apply(new Command.Increment("n", 1)), refused(Refusal.OVERFLOW));
        assertResult(apply(new Command.Increment("n", -1)), applied(2, Long.MAX_VALUE - 1));
    }

    @Test
    void anAppendAnswersTheNewLengthAndIsRefusedPastTheValueLimit() throws Exception {
        assertResult(apply(new Command.Append("s", bytes("ab"))), applied(1, 2));
        assertResult(apply(new Command.Append("s", bytes("cde"))), applied(2, 5));
        assertThat(running.lookup("s")).isEqualTo("abcde");
        assertResult(apply(new Command.Append("s", new byte[Command.MAX_VALUE_BYTES - 4])),
                refused(Refusal.TOO_LARGE));
        assertThat(running.lookup("s")).isEqualTo("abcde");
    }

    @Test
    void incrementsAndAppendsKeepTheKeysTimeToLive() throws Exception {
        apply(putFor("n", "1", 5000));
        apply(new Command.Increment("n", 1), T0 + 100);
        apply(new Command.Append("n", bytes("0")), T0 + 200);
        assertThat(record("n")).returns(bytes("20"), Record::value).returns(T0 + 5000, Record::expiresAt);
    }

    // ---------------------------------------------------------------------------------------- many keys

    @Test
    void aWriteOfManyKeysIsOneRevisionAndTheLastValueOfAKeyNamedTwiceWins() throws Exception {
        apply(putFor("a", "old", 5000));
        Command.PutAll putAll = new Command.PutAll(List.of(new Command.KeyValue("a", bytes("1")),
                new Command.KeyValue("b", bytes("2")), new Command.KeyValue("a", bytes("3"))));
        assertResult(apply(putAll), applied(2, 0));
        assertThat(record("a")).returns(bytes("3"), Record::value).returns(2L, Record::modRevision)
                .returns(0L, Record::expiresAt);
        assertThat(record("b")).returns(2L, Record::createRevision);
    }

    @Test
    void aDeleteOfManyKeysIsOneRevisionAndCountsThoseThatExisted() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("b", bytes("2")));
        assertResult(apply(new Command.Delete(List.of("a", "absent", "b"), Condition.NONE)), applied(3, 2));
        assertThat(store.count(ReadLevel.STALE)).isEqualTo(new KVStore.Count(0, 0));
    }

    // ------------------------------------------------------------------------------------------ expiry

    @Test
    void aTimeToLiveCountsFromTheBatchStampNotFromThisNodesClock() throws Exception {
        apply(putFor("k", "v", 10_000), 5_000);
        assertThat(record("k").expiresAt()).isEqualTo(15_000);
        // A stamp behind the log's time (a new leader's clock behind the old one's) does not move it back.
        apply(putFor("j", "v", 10_000), 4_000);
        assertThat(record("j").expiresAt()).isEqualTo(15_000);
    }

    @Test
    void aPlainWriteMakesTheKeyPermanentAndKeepTtlKeepsItsDeadline() throws Exception {
        apply(putFor("k", "v", 1000));
        apply(new Command.Put("k", bytes("w"), Condition.NONE, Expiry.KEEP, false));
        assertThat(record("k").expiresAt()).isEqualTo(T0 + 1000);
        apply(Command.put("k", bytes("x")));
        assertThat(record("k").expires()).isFalse();
    }

    @Test
    void expireSetsADeadlineOnAnExistingKeyAndPersistClearsIt() throws Exception {
        apply(Command.put("k", bytes("v")));
        assertResult(apply(new Command.Expire("k", 3000)), applied(2, 1));
        assertThat(record("k")).returns(T0 + 3000, Record::expiresAt).returns(2L, Record::modRevision);
        assertResult(apply(new Command.Persist("k")), applied(3, 1));
        assertThat(record("k").expires()).isFalse();
        assertResult(apply(new Command.Persist("k")), applied(3, 0));
    }

    @Test
    void anExpireOfNoTimeDeletesTheKey() throws Exception {
        apply(Command.put("k", bytes("v")));
        assertResult(apply(new Command.Expire("k", 0)), applied(2, 1));
        assertThat(running.lookup("k")).isNull();
    }

    @Test
    void theLeadersExpiryDeletesKeysStillDueByTheLogsTimeAtTheRevisionItSaw() throws Exception {
        apply(putFor("due", "v", 1000));
        apply(putFor("rewritten", "v", 1000));
        apply(putFor("later", "v", 5000));
        apply(putFor("rewritten", "again", 1000));
        Command.ExpireDue expiry = new Command.ExpireDue(List.of(new Command.Due("due", 1),
                new Command.Due("rewritten", 2), new Command.Due("later", 3), new Command.Due("absent", 1)));
        assertResult(apply(expiry, T0 + 1000), applied(5, 1));
        assertThat(running.lookup("due")).isNull();
        assertThat(running.lookup("rewritten")).isEqualTo("again");
        assertThat(running.lookup("later")).isEqualTo("v");
    }

    @Test
    void theLeadersExpiryStampedBeforeTheDeadlineDeletesNothing() throws Exception {
        apply(putFor("k", "v", 1000));
        assertResult(apply(new Command.ExpireDue(List.of(new Command.Due("k", 1))), T0 + 999), applied(1, 0));
        assertThat(running.lookup("k")).isEqualTo("v");
    }

    @Test
    void theStoreProposesTheExpiryOfDueKeysOnlyWhileItLeads() throws Exception {
        long past = System.currentTimeMillis() - 10_000;
        apply(putFor("due", "v", 1000), past);
        apply(putFor("later", "v", 3_600_000), past);
        Thread.sleep(2 * Expiries.PERIOD.toMillis());
        assertThat(running.proposeC.drainTo(new ArrayList<>(), 10)).as("proposed while following").isZero();

        running.consensus.leads = true;
        Proposal expiry = running.proposeC.take();
        assertThat(expiry.command()).isEqualTo(new Command.ExpireDue(List.of(new Command.Due("due", 1))));
        running.commitC.put(new Commit.Apply(store.appliedIndex() + 1, System.currentTimeMillis(), List.of(expiry)));
        await().atMost(PATIENCE).until(() -> running.lookup("due") == null);
        assertThat(running.lookup("later")).isEqualTo("v");
    }

    // ------------------------------------------------------------------------------------------- reads

    @Test
    void aRangeListsTheKeysUnderAPrefixInByteOrderAPageAtATime() throws Exception {
        for (String key : List.of("a/2", "a/1", "b/1", "a/\u00e9", "a/z", "a")) {
            apply(Command.put(key, bytes("v")));
        }
        KVStore.Page first = store.range("a/", null, 2, ReadLevel.STALE);
        assertThat(first.keys()).extracting(KVStore.Keyed::key).containsExactly("a/1", "a/2");
        assertThat(first.more()).isTrue();
        assertThat(first.revision()).isEqualTo(6);
        KVStore.Page second = store.range("a/", "a/2", 2, ReadLevel.STALE);
        assertThat(second.keys()).extracting(KVStore.Keyed::key).containsExactly("a/z", "a/\u00e9");
        assertThat(second.more()).isFalse();
        assertThat(second.keys().getFirst().record().createRevision()).isEqualTo(5);
        assertThat(store.range("", "a/z", 10, ReadLevel.STALE).keys()).extracting(KVStore.Keyed::key)
                .containsExactly("a/\u00e9", "b/1");
    }

    @Test
    void theCountIsOfKeysAndOfThoseThatExpire() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(putFor("b", "2", 1000));
        apply(putFor("c", "3", 1000));
        apply(new Command.Persist("c"));
        assertThat(store.count(ReadLevel.STALE)).isEqualTo(new KVStore.Count(3, 1));
    }

    @Test
    void keysReadTogetherComeInTheOrderAskedWithTheStoresRevision() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("b", bytes("2")));
        KVStore.Values values = store.read(List.of("b", "absent", "a"), ReadLevel.STALE);
        assertThat(values.revision()).isEqualTo(2);
        assertThat(values.records()).extracting(r -> r == null ? null : new String(r.value()))
                .containsExactly("2", null, "1");
    }

    // ---------------------------------------------------------------------------------- watch and snapshots

    @Test
    void theListenerIsToldEveryChangeInRevisionOrderAndNothingOfARefusal() throws Exception {
        List<Event> events = new ArrayList<>();
        store.listen(new ChangeListener() {
            @Override
            public synchronized void applied(List<Event> applied) {
                events.addAll(applied);
            }

            @Override
            public void restored(long revision) {
            }
        });
        apply(Command.put("a", bytes("1")));
        apply(put("a", "2", Condition.ABSENT));
        apply(new Command.PutAll(List.of(new Command.KeyValue("b", bytes("2")), new Command.KeyValue("c", bytes("3")))));
        apply(new Command.Delete(List.of("a", "b"), Condition.NONE));
        assertThat(events).extracting(e -> e.revision() + " " + e.key() + " " + (e.isDelete() ? "-" : new String(e.value())))
                .containsExactly("1 a 1", "2 b 2", "2 c 3", "3 a -", "3 b -");
    }

    @Test
    void aListenerIsFirstToldTheRevisionTheStoreHasReached() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("b", bytes("2")));
        List<Long> restored = new ArrayList<>();
        store.listen(new ChangeListener() {
            @Override
            public void applied(List<Event> events) {
            }

            @Override
            public void restored(long revision) {
                restored.add(revision);
            }
        });
        assertThat(restored).containsExactly(2L);
    }

    @Test
    void aSnapshotCarriesTheRevisionsAndDeadlinesToAnotherStore() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("a", bytes("2")));
        apply(putFor("b", "3", 1000));
        List<byte[]> chunks = running.snapshot();

        try (RunningStore other = new RunningStore(engine(), dataDir.resolve("other"), true, OTHER)) {
            List<Long> restored = new ArrayList<>();
            other.store.listen(new ChangeListener() {
                @Override
                public void applied(List<Event> events) {
                }

                @Override
                public void restored(long revision) {
                    restored.add(revision);
                }
            });
            other.commit(new Commit.Restore(3, chunks));
            // Told first the revision the empty store starts from, then the snapshot's.
            assertThat(restored).containsExactly(0L, 3L);
            Record a = other.store.read(List.of("a"), ReadLevel.STALE).records().getFirst();
            assertThat(a).returns(1L, Record::createRevision).returns(2L, Record::modRevision)
                    .returns(2L, Record::version);
            assertThat(other.store.count(ReadLevel.STALE)).isEqualTo(new KVStore.Count(2, 1));
            assertResult(other.apply(Command.put("c", bytes("4")), T0), applied(4, 0));
        }
    }
}
