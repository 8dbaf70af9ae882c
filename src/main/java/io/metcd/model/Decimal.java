package io.metcd.model;

/** Integers as text, the way Redis reads them: what INCR increments and what the Redis commands take as arguments. */
public final class Decimal {
    private Decimal() {
    }

    /**
     * The signed 64-bit integer {@code text} spells as Redis reads one (its string2ll): an optional '-', then
     * digits without a leading zero (but "0" itself), nothing else; {@code null} otherwise or when out of range.
     */
    public static Long parse(byte[] text) {
        int n = text.length;
        if (n == 0 || n > 20) {
            return null;
        }
        boolean negative = text[0] == '-';
        int start = negative ? 1 : 0;
        if (start == n || text[start] == '0' && (n - start > 1 || negative)) {
            return null;
        }
        long value = 0; // accumulated negatively: the negative range is the larger one
        for (int i = start; i < n; i++) {
            int digit = text[i] - '0';
            if (digit < 0 || digit > 9 || value < (Long.MIN_VALUE + digit) / 10) {
                return null;
            }
            value = value * 10 - digit;
        }
        if (!negative && value == Long.MIN_VALUE) {
            return null;
        }
        return negative ? value : -value;
    }
}
