package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Commit;
import io.metcd.model.StateView;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What an engine that keeps its state on disk adds to the {@link CommandContract}: a store closed and opened
 * again on the same directory, as a restarted node opens it, comes back at the index it had applied, and skips
 * what MicroRaft replays at or below it.
 */
abstract class PersistentKVStoreContract extends CommandContract {

    /** Closes the store and opens it again on the same directory, as a node restarted on its data does. */
    void reopen() throws InterruptedException {
        running.close();
        running = new RunningStore(engine(), dataDir, false, LOCAL);
        store = running.store;
    }

    @Test
    void aReopenedStoreComesBackAtTheIndexItHadAppliedWithItsData() throws Exception {
        commit(put(1, "a", "1"));
        commit(put(2, "b", "2"));
        commit(new Commit.MembershipChanged(3));
        reopen();
        assertThat(store.appliedIndex()).isEqualTo(3);
        assertThat(running.lookup("a")).isEqualTo("1");
        assertThat(running.lookup("b")).isEqualTo("2");
    }

    @Test
    void aReopenedStoreComesBackWithItsRevisionRecordsAndDeadlines() throws Exception {
        apply(Command.put("a", bytes("1")));
        apply(Command.put("a", bytes("2")));
        apply(putFor("b", "3", 1000));
        reopen();
        assertThat(record("a")).returns(1L, Record::createRevision).returns(2L, Record::modRevision);
        assertThat(record("b").expiresAt()).isEqualTo(T0 + 1000);
        assertThat(store.count(ReadLevel.STALE)).isEqualTo(new KVStore.Count(2, 1));
        assertResult(apply(Command.put("c", bytes("4"))), applied(4, 0));
    }

    @Test
    void aReopenedStoreSkipsTheLogReplayedAtOrBelowItsIndex() throws Exception {
        commit(put(1, "k", "first"));
        commit(put(2, "k", "second"));
        reopen();
        commit(put(1, "k", "first"));
        commit(new Commit.MembershipChanged(3));
        assertThat(running.lookup("k")).isEqualTo("second");
    }

    @Test
    void aReopenedStoreSkipsASnapshotAtOrBelowItsIndexInsteadOfReloadingIt() throws Exception {
        commit(put(1, "a", "1"));
        List<byte[]> atOne = running.snapshot();
        commit(put(2, "b", "2"));
        reopen();
        commit(new Commit.Restore(1, atOne));
        commit(new Commit.MembershipChanged(3));
        assertThat(running.lookup("b")).isEqualTo("2");
    }

    @Test
    void aSnapshotAboveTheIndexReplacesTheContentAndIsWhatTheNextReopenFinds() throws Exception {
        commit(put(2, "b", "2"));
        reopen();
        commit(new Commit.Restore(10, snapshotOf(10, "a", "1")));
        assertThat(running.lookup("b")).isNull();
        reopen();
        assertThat(store.appliedIndex()).isEqualTo(10);
        assertThat(running.lookup("a")).isEqualTo("1");
        assertThat(running.lookup("b")).isNull();
    }

    /** An install replaces the table a snapshot is still being written from: that table goes once it is written. */
    @Test
    void aViewOutlivesTheTableAnInstallReplacedWhichGoesOnceTheViewCloses() throws Exception {
        commit(put(1, "a", "1"));
        List<byte[]> atOne = running.snapshot();
        StateView view = running.view();
        Path oldGeneration = generation();
        commit(new Commit.Restore(10, snapshotOf(10, "b", "2")));
        assertThat(running.lookup("a")).isNull();
        assertThat(oldGeneration).exists();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        view.writeTo(out);
        view.close();

        assertThat(RunningStore.chunks(out.toByteArray())).singleElement().isEqualTo(atOne.getFirst());
        assertThat(oldGeneration).doesNotExist();
    }

    private Path generation() throws IOException {
        Path engineDir = dataDir.resolve("engine");
        return engineDir.resolve(Files.readString(engineDir.resolve("CURRENT")).strip());
    }

    @Test
    void aStoreOpenedForANodeWithoutRaftStateStartsEmpty() throws Exception {
        commit(put(1, "a", "1"));
        running.close();
        running = new RunningStore(engine(), dataDir, true, LOCAL);
        store = running.store;
        assertThat(store.appliedIndex()).isZero();
        assertThat(store.lookup("a")).isNull();
    }

    @Test
    void aGenerationLeftByAnInterruptedSnapshotInstallIsIgnoredAndDeleted() throws Exception {
        commit(put(1, "a", "1"));
        Path engineDir = dataDir.resolve("engine");
        Path leftover = Files.createDirectories(engineDir.resolve("gen-99"));
        Files.writeString(leftover.resolve("half-written"), "junk");
        reopen();
        assertThat(store.appliedIndex()).isEqualTo(1);
        assertThat(running.lookup("a")).isEqualTo("1");
        assertThat(leftover).doesNotExist();
    }

    @Test
    void filesCopiedWhileTheStoreIsOpenAsAKillLeavesThemOpenAtTheAppliedIndexOrEmptyNeverInBetween()
            throws Exception {
        for (int i = 1; i <= 50; i++) {
            commit(put(i, "k" + i, "v" + i));
        }
        Path killed = dataDir.resolve("killed");
        copyTree(dataDir.resolve("engine"), killed.resolve("engine"));
        try (RunningStore restarted = new RunningStore(engine(), killed, false, LOCAL)) {
            long index = restarted.store.appliedIndex();
            assertThat(index).isIn(0L, 50L);
            assertThat(restarted.lookup("k50")).isEqualTo(index == 0 ? null : "v50");
            assertThat(restarted.lookup("k1")).isEqualTo(index == 0 ? null : "v1");
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
    }
}
