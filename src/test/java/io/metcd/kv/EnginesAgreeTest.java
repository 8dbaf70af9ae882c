package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Commit;
import io.metcd.model.Operation.Proposal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Snapshots are engine-independent: the same state makes the same chunks, and any engine installs any other's. */
class EnginesAgreeTest {
    /** Keys whose UTF-16 order differs from their UTF-8 order, a NUL, shared prefixes, and enough for many chunks. */
    static final List<String> KEYS = Stream.concat(
            Stream.of("a", "a/b", "a\u0000", "\uFFFD", "\uE000", "\uD83D\uDE00", "\u00E9", "Z", "~"),
            IntStream.range(0, 3000).mapToObj(i -> "key/" + i)).toList();

    @TempDir
    Path dir;

    static Commit.Apply everyKey() {
        List<Proposal> puts = new ArrayList<>();
        for (int i = 0; i < KEYS.size(); i++) {
            puts.add(new Proposal(2, i, Command.put(KEYS.get(i), ("value of " + KEYS.get(i) + " ".repeat(500))
                    .getBytes(StandardCharsets.UTF_8))));
        }
        return new Commit.Apply(1, 0, puts);
    }

    RunningStore storeWithEveryKey(Engine engine) throws InterruptedException {
        RunningStore store = new RunningStore(engine, dir.resolve(engine.name()), true, 1);
        store.commit(everyKey());
        return store;
    }

    @Test
    void everyEngineCutsTheSameStateIntoTheSameChunksInUtf8Order() throws Exception {
        List<List<byte[]>> snapshots = new ArrayList<>();
        for (Engine engine : Engine.values()) {
            try (RunningStore store = storeWithEveryKey(engine)) {
                snapshots.add(store.snapshot());
            }
        }
        for (List<byte[]> other : snapshots.subList(1, snapshots.size())) {
            assertThat(other).hasSameSizeAs(snapshots.getFirst());
            for (int i = 0; i < other.size(); i++) {
                assertThat(other.get(i)).isEqualTo(snapshots.getFirst().get(i));
            }
        }
        List<byte[]> keys = new ArrayList<>();
        new SnapshotFormat.In(snapshots.getFirst(), 1).forEach((key, record) -> keys.add(key));
        assertThat(keys).hasSize(KEYS.size());
        for (int i = 1; i < keys.size(); i++) {
            assertThat(Arrays.compareUnsigned(keys.get(i - 1), keys.get(i))).isNegative();
        }
    }

    static Stream<Arguments> everyPairOfEngines() {
        return Arrays.stream(Engine.values())
                .flatMap(from -> Arrays.stream(Engine.values()).map(to -> Arguments.of(from, to)));
    }

    @ParameterizedTest(name = "{0} to {1}")
    @MethodSource("everyPairOfEngines")
    void aSnapshotTakenByOneEngineInstallsInAnother(Engine from, Engine to) throws Exception {
        List<byte[]> chunks;
        try (RunningStore source = storeWithEveryKey(from)) {
            chunks = source.snapshot();
        }
        try (RunningStore target = new RunningStore(to, dir.resolve("target"), true, 1)) {
            target.commit(new Commit.Restore(1, chunks));
            for (String key : KEYS) {
                assertThat(target.lookup(key)).startsWith("value of " + key);
            }
            assertThat(target.snapshot()).containsExactlyElementsOf(chunks);
        }
    }
}
