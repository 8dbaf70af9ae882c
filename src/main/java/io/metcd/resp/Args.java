package io.metcd.resp;

import io.metcd.model.Decimal;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/** A command's arguments, the name at 0, and the checks that turn them into Java values or a Redis error. */
final class Args {
    static final String NOT_AN_INTEGER = "ERR value is not an integer or out of range";

    private final List<byte[]> args;
    /** Keys decoded so far: the table checks them before the handler takes them. */
    private final String[] keys;

    Args(List<byte[]> args) {
        this.args = args;
        this.keys = new String[args.size()];
    }

    /** An argument refused: the command answers {@link #reply} and does nothing. */
    static final class Invalid extends RuntimeException {
        final Reply reply;

        Invalid(String error) {
            super(error, null, false, false);
            this.reply = Reply.error(error);
        }
    }

    int size() {
        return args.size();
    }

    byte[] bytes(int i) {
        return args.get(i);
    }

    List<byte[]> all() {
        return args;
    }

    /** The argument as text (UTF-8; what is not UTF-8 becomes U+FFFD). */
    String text(int i) {
        return new String(args.get(i), StandardCharsets.UTF_8);
    }

    /** Whether the argument is {@code word}, ignoring ASCII case, as Redis compares option names. */
    boolean is(int i, String word) {
        return text(i).equalsIgnoreCase(word);
    }

    String lower(int i) {
        return text(i).toLowerCase(Locale.ROOT);
    }

    /** A key: the table checked its size; it must also be UTF-8, the form keys have in the store and over HTTP. */
    String key(int i) {
        if (keys[i] == null) {
            keys[i] = decodeKey(args.get(i));
        }
        return keys[i];
    }

    private static String decodeKey(byte[] key) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(key)).toString();
        } catch (CharacterCodingException e) {
            throw new Invalid("ERR key is not valid UTF-8");
        }
    }

    long integer(int i) {
        Long value = Decimal.parse(args.get(i));
        if (value == null) {
            throw new Invalid(NOT_AN_INTEGER);
        }
        return value;
    }
}
