package io.metcd.resp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.redis.ArrayHeaderRedisMessage;
import io.netty.handler.codec.redis.BulkStringHeaderRedisMessage;
import io.netty.handler.codec.redis.BulkStringRedisContent;
import io.netty.handler.codec.redis.FullBulkStringRedisMessage;
import io.netty.handler.codec.redis.InlineCommandRedisMessage;
import io.netty.handler.codec.redis.LastBulkStringRedisContent;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns the pieces Netty's {@code RedisDecoder} frames (an array header, then each bulk string as a header and its
 * content in chunks, or an inline line) into commands: lists of arguments, passed on as {@code List<byte[]>}.
 * <p>
 * Every limit is checked on a length header, before what it announces is read: a bulk string over
 * {@link #MAX_VALUE_BYTES}, an array over {@link #MAX_ARGUMENTS} elements or a command whose declared lengths add up
 * to more than {@link #MAX_COMMAND_BYTES} is refused unread. The decoder itself bounds inline lines and length
 * lines. A key over {@link Commands#MAX_KEY_BYTES} is skipped as it arrives, never held, and stands in the command as
 * {@link #OVERSIZED_KEY}, which the command table refuses as it refuses any key too long ({@code ERR key too large});
 * the connection goes on. A bulk string is held as the chunks that arrived (no buffer the size it announces) and copied once, whole,
 * into its argument. After a refusal, or anything that is not a command, the connection is closed (its stream can no
 * longer be parsed): this handler throws {@link Malformed} and drops whatever follows.
 */
final class CommandAssembler extends ChannelInboundHandlerAdapter {
    /** The largest value, as over HTTP. */
    static final int MAX_VALUE_BYTES = 1 << 20;
    /**
     * Arguments of one command: an MSET of 32767 pairs, a DEL of 65535 keys. Redis allows more; a client needing more
     * sends several commands.
     */
    static final int MAX_ARGUMENTS = 65_536;
    /**
     * All the arguments of one command together: room for an MSET of three values of the largest size. A write is
     * one Raft entry, which the leader sends to each follower in one piece.
     */
    static final int MAX_COMMAND_BYTES = 4 << 20;
    /** What stands for a key too long to be taken: longer than any key, so the table refuses it. */
    static final byte[] OVERSIZED_KEY = new byte[Commands.MAX_KEY_BYTES + 1];

    /** Tells which arguments of a command are keys, from its name and its number of arguments. */
    @FunctionalInterface
    interface KeyPositions {
        boolean isKey(byte[] command, int index, int argCount);
    }

    private final KeyPositions keyPositions;

    /** Arguments still expected by the command being assembled; 0 between commands. */
    private int expected;
    private int argCount;
    private List<byte[]> args;
    private long commandBytes;
    /** The bulk string being received: its length, and the chunks of it that arrived, retained. */
    private int bulkLength = -1;
    private final List<ByteBuf> chunks = new ArrayList<>();
    /** Whether the bulk string being received is a key too long, skipped rather than held. */
    private boolean skipping;
    private boolean broken;

    CommandAssembler(KeyPositions keyPositions) {
        this.keyPositions = keyPositions;
    }

    /** A frame that cannot be taken: the connection answers {@link #reply} and closes. */
    static final class Malformed extends RuntimeException {
        final String reply;

        Malformed(String reply) {
            super(reply, null, false, false);
            this.reply = reply;
        }

        static Malformed protocol(String what) {
            return new Malformed("ERR Protocol error: " + what);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (broken) {
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            take(ctx, msg);
        } catch (Malformed e) {
            broken = true;
            releaseChunks();
            throw e;
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void take(ChannelHandlerContext ctx, Object msg) {
        if (expected == 0) {
            startCommand(ctx, msg);
        } else if (bulkLength >= 0) {
            if (!(msg instanceof BulkStringRedisContent content)) {
                throw Malformed.protocol("bulk string cut short");
            }
            if (!skipping) {
                chunks.add(content.content().retain());
            }
            if (msg instanceof LastBulkStringRedisContent) {
                argument(ctx, skipping ? OVERSIZED_KEY : joinChunks());
            }
        } else if (msg instanceof BulkStringHeaderRedisMessage header) {
            int length = header.bulkStringLength();
            if (length > MAX_VALUE_BYTES) {
                throw new Malformed("ERR value too large");
            }
            skipping = length > Commands.MAX_KEY_BYTES && !args.isEmpty()
                    && keyPositions.isKey(args.get(0), args.size(), argCount);
            if (skipping) {
                bulkLength = length;
                return;
            }
            commandBytes += length;
            if (commandBytes > MAX_COMMAND_BYTES) {
                throw Malformed.protocol("command longer than " + MAX_COMMAND_BYTES + " bytes");
            }
            bulkLength = length;
        } else if (msg instanceof FullBulkStringRedisMessage full && !full.isNull()) {
            argument(ctx, ByteBufUtil.getBytes(full.content())); // the decoder's empty string
        } else {
            throw Malformed.protocol("expected '$' in a command, got " + describe(msg));
        }
    }

    private void startCommand(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ArrayHeaderRedisMessage header) {
            if (header.isNull() || header.length() == 0) {
                return; // Redis skips empty commands too
            }
            if (header.length() > MAX_ARGUMENTS) {
                throw Malformed.protocol("more than " + MAX_ARGUMENTS + " arguments");
            }
            expected = (int) header.length();
            argCount = expected;
            args = new ArrayList<>(Math.min(expected, 16));
            commandBytes = 0;
        } else if (msg instanceof InlineCommandRedisMessage inline) {
            List<byte[]> words = InlineSplitter.split(inline.content());
            if (words.size() > MAX_ARGUMENTS) {
                throw Malformed.protocol("more than " + MAX_ARGUMENTS + " arguments");
            }
            if (!words.isEmpty()) {
                ctx.fireChannelRead(words);
            }
        } else {
            throw Malformed.protocol("expected '*' or an inline command, got " + describe(msg));
        }
    }

    private void argument(ChannelHandlerContext ctx, byte[] arg) {
        args.add(arg);
        bulkLength = -1;
        skipping = false;
        if (--expected == 0) {
            List<byte[]> command = args;
            args = null;
            ctx.fireChannelRead(command);
        }
    }

    private byte[] joinChunks() {
        byte[] value = new byte[bulkLength];
        int at = 0;
        for (ByteBuf chunk : chunks) {
            int n = chunk.readableBytes();
            chunk.getBytes(chunk.readerIndex(), value, at, n);
            at += n;
        }
        releaseChunks();
        return value;
    }

    private void releaseChunks() {
        chunks.forEach(ByteBuf::release);
        chunks.clear();
    }

    private static String describe(Object msg) {
        String name = msg.getClass().getSimpleName();
        return name.endsWith("RedisMessage") ? name.substring(0, name.length() - "RedisMessage".length()) : name;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseChunks();
    }

    /**
     * Splits an inline command (what a person types into telnet) into words as Redis does: separated by spaces and
     * tabs, with double quotes (backslash escapes, {@code \xHH} included) and single quotes (only {@code \'}).
     */
    static final class InlineSplitter {
        private InlineSplitter() {
        }

        static List<byte[]> split(String line) {
            List<byte[]> words = new ArrayList<>();
            int i = 0;
            int n = line.length();
            while (true) {
                while (i < n && Character.isWhitespace(line.charAt(i))) {
                    i++;
                }
                if (i == n) {
                    return words;
                }
                ByteArrayOutputStream word = new ByteArrayOutputStream();
                char quote = 0;
                for (; i < n; i++) {
                    char c = line.charAt(i);
                    if (quote == 0) {
                        if (Character.isWhitespace(c)) {
                            break;
                        } else if (c == '"' || c == '\'') {
                            quote = c;
                        } else {
                            i = literal(line, i, word);
                        }
                    } else if (c == quote) {
                        if (i + 1 < n && !Character.isWhitespace(line.charAt(i + 1))) {
                            throw Malformed.protocol("unbalanced quotes in request");
                        }
                        quote = 0;
                        i++;
                        break;
                    } else if (c == '\\' && i + 1 < n) {
                        i = escape(line, i, quote, word);
                    } else {
                        i = literal(line, i, word);
                    }
                }
                if (quote != 0) {
                    throw Malformed.protocol("unbalanced quotes in request");
                }
                words.add(word.toByteArray());
            }
        }

        /** Writes the escape at {@code line[i]} (a backslash) and returns the index of its last character. */
        private static int escape(String line, int i, char quote, ByteArrayOutputStream word) {
            char next = line.charAt(i + 1);
            if (quote == '\'') {
                if (next == '\'') {
                    word.write('\'');
                    return i + 1;
                }
                word.write('\\');
                return i;
            }
            if (next == 'x' && i + 3 < line.length() && hex(line.charAt(i + 2)) >= 0 && hex(line.charAt(i + 3)) >= 0) {
                word.write(hex(line.charAt(i + 2)) * 16 + hex(line.charAt(i + 3)));
                return i + 3;
            }
            switch (next) {
                case 'n' -> word.write('\n');
                case 'r' -> word.write('\r');
                case 't' -> word.write('\t');
                case 'b' -> word.write('\b');
                case 'a' -> word.write(7);
                default -> {
                    return literal(line, i + 1, word);
                }
            }
            return i + 1;
        }

        private static int hex(char c) {
            return Character.digit(c, 16);
        }

        /** Writes the character at {@code line[i]} in UTF-8 and returns the index of its last char (a pair's second). */
        private static int literal(String line, int i, ByteArrayOutputStream out) {
            int codePoint = line.codePointAt(i);
            out.writeBytes(Character.toString(codePoint).getBytes(StandardCharsets.UTF_8));
            return i + Character.charCount(codePoint) - 1;
        }
    }
}
