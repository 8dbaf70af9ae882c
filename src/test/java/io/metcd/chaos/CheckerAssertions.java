package io.metcd.chaos;

import io.metcd.chaos.LinearizabilityChecker.Result;
import io.metcd.chaos.LinearizabilityChecker.Verdict;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** What the checker's tests assert of a history written by hand, times in milliseconds. */
final class CheckerAssertions {
    private CheckerAssertions() {
    }

    static void assertLinearizable(Op... history) {
        Result result = check(history);
        assertThat(result.linearizable()).as("%s", result).isTrue();
    }

    static void assertNotLinearizable(Op... history) {
        Result result = check(history);
        assertThat(result.verdict()).as("%s", result).isEqualTo(Verdict.NOT_LINEARIZABLE);
    }

    static Result check(Op... history) {
        return LinearizabilityChecker.check(List.of(history));
    }

    /** A time in a hand-written history, in the nanoseconds histories hold. */
    static long ms(long millis) {
        return millis * 1_000_000;
    }
}
