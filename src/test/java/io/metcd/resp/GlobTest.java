package io.metcd.resp;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/** Redis's glob patterns, as KEYS and SCAN MATCH take them. */
class GlobTest {

    @Test
    void starMatchesAnyRunAndQuestionMarkOneCharacter() {
        assertThat(new Glob("h*llo").matches("hllo")).isTrue();
        assertThat(new Glob("h*llo").matches("heeeello")).isTrue();
        assertThat(new Glob("h?llo").matches("hallo")).isTrue();
        assertThat(new Glob("h?llo").matches("hllo")).isFalse();
        assertThat(new Glob("*").matches("")).isTrue();
        assertThat(new Glob("a*b*c").matches("a-b-b-c")).isTrue();
        assertThat(new Glob("a*b*c").matches("a-b-b-")).isFalse();
    }

    @Test
    void classesMatchOneOfASetARangeOrNoneOfThem() {
        assertThat(new Glob("h[ae]llo").matches("hello")).isTrue();
        assertThat(new Glob("h[ae]llo").matches("hillo")).isFalse();
        assertThat(new Glob("h[^e]llo").matches("hallo")).isTrue();
        assertThat(new Glob("h[^e]llo").matches("hello")).isFalse();
        assertThat(new Glob("h[a-b]llo").matches("hbllo")).isTrue();
        assertThat(new Glob("h[b-a]llo").matches("hallo")).isTrue(); // a reversed range, as Redis reads it
        assertThat(new Glob("key[0-9]").matches("key7")).isTrue();
    }

    @Test
    void aBackslashMakesTheNextCharacterLiteral() {
        assertThat(new Glob("a\\*b").matches("a*b")).isTrue();
        assertThat(new Glob("a\\*b").matches("axb")).isFalse();
        assertThat(new Glob("[\\]]").matches("]")).isTrue();
    }

    @Test
    void charactersAreUnicodeCharactersNotBytes() {
        assertThat(new Glob("caf?").matches("café")).isTrue();
        assertThat(new Glob("?").matches("😀")).isTrue();
    }

    @Test
    void theLiteralPrefixEndsAtTheFirstSpecialCharacter() {
        assertThat(new Glob("user:*:name").literalPrefix()).isEqualTo("user:");
        assertThat(new Glob("a?c").literalPrefix()).isEqualTo("a");
        assertThat(new Glob("[ab]").literalPrefix()).isEmpty();
        assertThat(new Glob("a\\*").literalPrefix()).isEqualTo("a");
        assertThat(new Glob("plain").literalPrefix()).isEqualTo("plain");
    }

    @Test
    @Timeout(5)
    void aPatternOfManyStarsTakesPolynomialTime() {
        String pattern = "a*".repeat(30) + "b";
        assertThat(new Glob(pattern).matches("a".repeat(5000))).isFalse();
    }
}
