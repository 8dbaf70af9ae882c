package io.metcd.codec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** A bounds-checked reader over a byte buffer; every malformed input ends in {@link CodecException}. */
public final class Reader {
    private final ByteBuffer buf;

    public Reader(ByteBuffer buf) {
        this.buf = buf;
    }

    public Reader(byte[] bytes) {
        this(ByteBuffer.wrap(bytes));
    }

    public int remaining() {
        return buf.remaining();
    }

    private void need(int n) {
        if (n < 0 || buf.remaining() < n) {
            throw new CodecException("truncated input: need " + n + " bytes, have " + buf.remaining());
        }
    }

    public byte u8() {
        need(1);
        return buf.get();
    }

    public boolean bool() {
        byte b = u8();
        if (b != 0 && b != 1) {
            throw new CodecException("bad boolean " + b);
        }
        return b == 1;
    }

    public int i32() {
        need(4);
        return buf.getInt();
    }

    public long i64() {
        need(8);
        return buf.getLong();
    }

    /** A list length, checked against what is left, given the smallest encoding of one element. */
    int count(int minElementBytes) {
        int n = i32();
        if (n < 0 || (long) n * minElementBytes > buf.remaining()) {
            throw new CodecException("bad element count " + n + " with " + buf.remaining() + " bytes left");
        }
        return n;
    }

    public byte[] bytes() {
        int n = i32();
        need(n);
        byte[] v = new byte[n];
        buf.get(v);
        return v;
    }

    public String string() {
        int n = i32();
        need(n);
        String s;
        if (buf.hasArray()) {
            s = new String(buf.array(), buf.arrayOffset() + buf.position(), n, StandardCharsets.UTF_8);
            buf.position(buf.position() + n);
        } else {
            byte[] v = new byte[n];
            buf.get(v);
            s = new String(v, StandardCharsets.UTF_8);
        }
        return s;
    }
}
