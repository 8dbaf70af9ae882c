package io.metcd.chaos;

import java.util.Arrays;

/** The operations a search has linearized so far: a bit set that hands out compact copies of itself. */
final class LinearizedSet {
    private static final long FULL = -1L;
    private final long[] words;

    LinearizedSet(int operations) {
        words = new long[(operations + 63) / 64];
    }

    void add(int op) {
        words[op >>> 6] |= 1L << op;
    }

    void remove(int op) {
        words[op >>> 6] &= ~(1L << op);
    }

    /**
     * An immutable copy, equal to another exactly when the sets are. A search linearizes operations roughly in
     * their numbering order, so the set is mostly a run of full words and then a few others: only those are
     * copied.
     */
    Snapshot snapshot() {
        int from = 0;
        while (from < words.length && words[from] == FULL) {
            from++;
        }
        int to = words.length;
        while (to > from && words[to - 1] == 0) {
            to--;
        }
        return new Snapshot(from, Arrays.copyOfRange(words, from, to));
    }

    /**
     * @param fullWords how many words from the start are full
     * @param rest      the words after them, up to the last that is not empty
     */
    record Snapshot(int fullWords, long[] rest) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Snapshot s && fullWords == s.fullWords && Arrays.equals(rest, s.rest);
        }

        @Override
        public int hashCode() {
            return 31 * fullWords + Arrays.hashCode(rest);
        }
    }
}
