package io.metcd.resp;

/**
 * A Redis glob pattern, as {@code KEYS} and {@code SCAN MATCH} take it: {@code *} any run of characters, {@code ?} one
 * character, {@code [abc]}, {@code [^abc]} and {@code [a-z]} one of a set, a backslash makes the next character
 * literal. Matched per Unicode character, in time proportional to pattern length times key length (the single
 * backtrack point of the classic wildcard algorithm, so no pattern takes exponential time).
 */
final class Glob {
    private final int[] pattern;

    Glob(String pattern) {
        this.pattern = pattern.codePoints().toArray();
    }

    /** The literal text every match starts with: lets the store list only the keys under it. */
    String literalPrefix() {
        StringBuilder prefix = new StringBuilder();
        for (int c : pattern) {
            if (c == '*' || c == '?' || c == '[' || c == '\\') {
                break;
            }
            prefix.appendCodePoint(c);
        }
        return prefix.toString();
    }

    boolean matches(String key) {
        int[] text = key.codePoints().toArray();
        int p = 0;
        int t = 0;
        int starP = -1; // the pattern position after the last '*' seen, and where in the text it is tried from
        int starT = 0;
        while (t < text.length) {
            if (p < pattern.length && pattern[p] == '*') {
                while (p < pattern.length && pattern[p] == '*') {
                    p++;
                }
                starP = p;
                starT = t;
            } else if (p < pattern.length && pattern[p] != '*' && matchesOne(p, text[t])) {
                p = next(p);
                t++;
            } else if (starP >= 0) {
                p = starP;
                t = ++starT;
            } else {
                return false;
            }
        }
        while (p < pattern.length && pattern[p] == '*') {
            p++;
        }
        return p == pattern.length;
    }

    /** Whether the element of the pattern at {@code p} (not a star) matches the character {@code c}. */
    private boolean matchesOne(int p, int c) {
        int e = pattern[p];
        if (e == '?') {
            return true;
        } else if (e == '\\' && p + 1 < pattern.length) {
            return pattern[p + 1] == c;
        } else if (e == '[') {
            return inClass(p + 1, c);
        }
        return e == c;
    }

    private boolean inClass(int p, int c) {
        boolean negated = p < pattern.length && pattern[p] == '^';
        if (negated) {
            p++;
        }
        boolean found = false;
        while (p < pattern.length && pattern[p] != ']') {
            if (pattern[p] == '\\' && p + 1 < pattern.length) {
                found |= pattern[p + 1] == c;
                p += 2;
            } else if (p + 2 < pattern.length && pattern[p + 1] == '-' && pattern[p + 2] != ']') {
                int low = Math.min(pattern[p], pattern[p + 2]);
                int high = Math.max(pattern[p], pattern[p + 2]);
                found |= c >= low && c <= high;
                p += 3;
            } else {
                found |= pattern[p] == c;
                p++;
            }
        }
        return found != negated;
    }

    /** The position after the pattern element at {@code p}. */
    private int next(int p) {
        if (pattern[p] == '\\' && p + 1 < pattern.length) {
            return p + 2;
        } else if (pattern[p] != '[') {
            return p + 1;
        }
        p++;
        if (p < pattern.length && pattern[p] == '^') {
            p++;
        }
        while (p < pattern.length && pattern[p] != ']') {
            p += pattern[p] == '\\' && p + 1 < pattern.length ? 2 : 1;
        }
        return Math.min(p + 1, pattern.length); // an unclosed class ends with the pattern, as in Redis
    }
}
