package io.metcd.codec;

/** Input that is not a valid encoding: truncated, of an unknown type, or with an impossible length. */
public class CodecException extends RuntimeException {
    public CodecException(String message) {
        super(message);
    }
}
