package io.metcd.codec;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A growable big-endian byte sink, reused across encodings by {@link #reset()}. */
public final class Writer {
    private byte[] buf;
    private int pos;

    public Writer(int initialCapacity) {
        buf = new byte[initialCapacity];
    }

    public Writer reset() {
        pos = 0;
        return this;
    }

    public int length() {
        return pos;
    }

    /** The backing array; the encoding is its first {@link #length()} bytes. */
    public byte[] array() {
        return buf;
    }

    public byte[] toByteArray() {
        return Arrays.copyOf(buf, pos);
    }

    /** Overwrites four bytes at {@code at}, for a length prefix written before its content was known. */
    public void putI32(int at, int v) {
        buf[at] = (byte) (v >>> 24);
        buf[at + 1] = (byte) (v >>> 16);
        buf[at + 2] = (byte) (v >>> 8);
        buf[at + 3] = (byte) v;
    }

    private void ensure(int n) {
        if (pos + n > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
        }
    }

    public Writer u8(int v) {
        ensure(1);
        buf[pos++] = (byte) v;
        return this;
    }

    public Writer bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    public Writer i32(int v) {
        ensure(4);
        putI32(pos, v);
        pos += 4;
        return this;
    }

    public Writer i64(long v) {
        return i32((int) (v >>> 32)).i32((int) v);
    }

    public Writer bytes(byte[] v) {
        i32(v.length);
        ensure(v.length);
        System.arraycopy(v, 0, buf, pos, v.length);
        pos += v.length;
        return this;
    }

    public Writer string(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }
}
