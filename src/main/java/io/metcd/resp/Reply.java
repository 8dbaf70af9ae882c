package io.metcd.resp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A reply to a command, written in the protocol version the connection had when the command arrived: RESP2, or
 * RESP3 after {@code HELLO 3}. The two differ only for what RESP3 added that the commands here use (maps and a null
 * of its own); Netty's Redis codec has no RESP3 types, so replies are written here.
 */
sealed interface Reply {
    int RESP2 = 2;
    int RESP3 = 3;

    Reply OK = new Simple("OK");
    Reply PONG = new Simple("PONG");
    Reply NIL = new Bulk(null);
    Reply NIL_ARRAY = new Array(null);
    Reply ZERO = new Int(0);
    Reply ONE = new Int(1);
    Reply EMPTY_ARRAY = new Array(List.of());

    void writeTo(ByteBuf out, int protocol);

    /** {@code +text}: a status, such as OK. */
    record Simple(String text) implements Reply {
        @Override
        public void writeTo(ByteBuf out, int protocol) {
            out.writeByte('+');
            line(out, text);
        }
    }

    /** {@code -CODE message}; CR and LF in the message (it may quote what a client sent) become spaces. */
    record Error(String text) implements Reply {
        public Error {
            text = text.replace('\r', ' ').replace('\n', ' ');
        }

        /** A {@code TRYAGAIN} error: the operation was not carried out in time, and may be asked again. */
        boolean tryAgain() {
            return text.startsWith("TRYAGAIN");
        }

        @Override
        public void writeTo(ByteBuf out, int protocol) {
            out.writeByte('-');
            line(out, text);
        }
    }

    record Int(long value) implements Reply {
        @Override
        public void writeTo(ByteBuf out, int protocol) {
            out.writeByte(':');
            line(out, Long.toString(value));
        }
    }

    /** A binary-safe string, or the null reply when {@code value} is {@code null}. */
    record Bulk(byte[] value) implements Reply {
        @Override
        public void writeTo(ByteBuf out, int protocol) {
            if (value == null) {
                nil(out, protocol, '$');
                return;
            }
            out.writeByte('$');
            line(out, Integer.toString(value.length));
            out.writeBytes(value);
            out.writeShort(CRLF);
        }
    }

    /** An array, or the null array when {@code items} is {@code null}. */
    record Array(List<? extends Reply> items) implements Reply {
        @Override
        public void writeTo(ByteBuf out, int protocol) {
            if (items == null) {
                nil(out, protocol, '*');
                return;
            }
            out.writeByte('*');
            line(out, Integer.toString(items.size()));
            for (Reply item : items) {
                item.writeTo(out, protocol);
            }
        }
    }

    /** Keys and values alternating: a map in RESP3, a flat array of twice its size in RESP2 (as Redis does). */
    record MapReply(List<? extends Reply> keysAndValues) implements Reply {
        public MapReply {
            if (keysAndValues.size() % 2 != 0) {
                throw new IllegalArgumentException("a map needs as many values as keys");
            }
        }

        @Override
        public void writeTo(ByteBuf out, int protocol) {
            if (protocol == RESP3) {
                out.writeByte('%');
                line(out, Integer.toString(keysAndValues.size() / 2));
                keysAndValues.forEach(r -> r.writeTo(out, protocol));
            } else {
                new Array(keysAndValues).writeTo(out, protocol);
            }
        }
    }

    static Reply bulk(String text) {
        return new Bulk(text.getBytes(StandardCharsets.UTF_8));
    }

    static Reply error(String text) {
        return new Error(text);
    }

    static Reply of(boolean flag) {
        return flag ? ONE : ZERO;
    }

    short CRLF = ('\r' << 8) | '\n';

    private static void line(ByteBuf out, String text) {
        ByteBufUtil.writeUtf8(out, text);
        out.writeShort(CRLF);
    }

    /** RESP3 has one null, {@code _}; RESP2 has a null bulk string {@code $-1} and a null array {@code *-1}. */
    private static void nil(ByteBuf out, int protocol, char resp2Type) {
        if (protocol == RESP3) {
            out.writeByte('_');
        } else {
            out.writeByte(resp2Type);
            out.writeByte('-');
            out.writeByte('1');
        }
        out.writeShort(CRLF);
    }
}
