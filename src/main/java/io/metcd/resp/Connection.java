package io.metcd.resp;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/**
 * One client connection: runs its commands, pipelined, and answers them in the order they came, however their calls
 * to the store complete. Everything here runs on the connection's event loop; calls to the store return futures, so
 * nothing blocks it, and a completed future only schedules the connection's next step on its loop.
 * <ul>
 * <li><b>Pipelining.</b> A command is started as soon as it is read, unless an earlier command of this connection
 * that touches one of its keys, one of them writing it, is still in flight (then it waits, and so does every command
 * after it): a connection sees its own writes, in its order, as in Redis, while its writes to different keys go to
 * the store together and join Raft batches.</li>
 * <li><b>Back-pressure.</b> Reading pauses while {@link #MAX_IN_FLIGHT} commands are unanswered, or while the client
 * does not read its replies (the channel is not writable), and resumes when that clears.</li>
 * <li><b>Replies</b> are written as their turn comes and flushed once per read or per batch of completions.</li>
 * <li><b>Closing.</b> After QUIT or a malformed frame, nothing more is read; the replies due are written, the last
 * one being QUIT's OK or the protocol error, and then the connection closes.</li>
 * </ul>
 */
final class Connection extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
    /** Commands read but not yet answered, beyond which reading pauses; it resumes at half as many. */
    static final int MAX_IN_FLIGHT = 1024;
    /** Replies are handed to the socket in pieces of about this size. */
    private static final int WRITE_CHUNK = 64 * 1024;

    private final Commands commands;
    private final RespMetrics metrics;
    private final Session session;
    private ChannelHandlerContext ctx;

    /** Every command not yet answered, in the order it came. */
    private final ArrayDeque<Pending> unanswered = new ArrayDeque<>();
    /** Commands not yet started because of an earlier conflicting one, in the order they came. */
    private final ArrayDeque<Pending> waiting = new ArrayDeque<>();
    private final KeysInFlight inFlight = new KeysInFlight();
    private boolean reading = true;
    private boolean closing;
    private boolean unflushed;
    private boolean flushScheduled;

    Connection(Commands commands, RespMetrics metrics, Session session) {
        this.commands = commands;
        this.metrics = metrics;
        this.session = session;
    }

    /** A command between its arrival and its reply. */
    private static final class Pending {
        final Call<Object> call;
        /** The protocol its reply is written in: the connection's when the command came (HELLO's own included). */
        final int protocol;
        final long arrivedNanos = System.nanoTime();
        final boolean closeAfter;
        CompletableFuture<Object> result;
        boolean released;

        @SuppressWarnings("unchecked")
        Pending(Call<?> call, int protocol, boolean closeAfter) {
            this.call = (Call<Object>) call;
            this.protocol = protocol;
            this.closeAfter = closeAfter;
        }

        boolean answered() {
            return result != null && result.isDone();
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        metrics.connectionOpened();
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        metrics.connectionClosed();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            return; // read with the QUIT or the bad frame, after it
        }
        @SuppressWarnings("unchecked")
        List<byte[]> args = (List<byte[]>) msg;
        Call<?> call;
        try {
            call = commands.parse(session, args);
        } catch (RuntimeException e) {
            LOG.warn("command failed to parse", e);
            call = Call.now(Reply.error("ERR internal error")).as("unknown", Call.Access.NONE, List.of());
        }
        Pending command = new Pending(call, session.protocol, session.closeAfterReply);
        unanswered.add(command);
        if (waiting.isEmpty() && inFlight.allows(call)) {
            start(command);
        } else {
            waiting.add(command);
        }
        if (command.closeAfter) {
            closing = true;
        }
        drain();
        updateReading();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        updateReading();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof CommandAssembler.Malformed malformed) {
            closeWith(malformed.reply);
        } else if (cause instanceof DecoderException) {
            Throwable reason = cause.getCause() != null ? cause.getCause() : cause;
            closeWith("ERR Protocol error: " + reason.getMessage());
        } else {
            LOG.debug("RESP connection {} closed: {}", session.remote, cause.toString());
            ctx.close();
        }
    }

    /** Answers what came before, then {@code error}, and closes: the rest of the stream cannot be parsed. */
    private void closeWith(String error) {
        if (closing) {
            return;
        }
        closing = true;
        Pending failure = new Pending(Call.now(Reply.error(error)), session.protocol, true);
        unanswered.add(failure);
        start(failure);
        drain();
        updateReading();
        flush();
    }

    private void start(Pending command) {
        inFlight.add(command.call);
        try {
            command.result = command.call.start().get();
        } catch (RuntimeException e) {
            command.result = CompletableFuture.failedFuture(e);
        }
        if (command.result.isDone()) {
            release(command);
        } else {
            command.result.whenComplete((value, failure) -> {
                try {
                    ctx.executor().execute(() -> completed(command));
                } catch (RejectedExecutionException e) {
                    // the server is shutting down, and the connection with it
                }
            });
        }
    }

    /** On the event loop, once a started command's call completed. */
    private void completed(Pending command) {
        release(command);
        while (!waiting.isEmpty() && inFlight.allows(waiting.peek().call)) {
            start(waiting.poll());
        }
        drain();
        updateReading();
        if (!flushScheduled) {
            // after the completions already queued on this loop: a Raft batch's replies go out in one flush
            flushScheduled = true;
            ctx.executor().execute(() -> {
                flushScheduled = false;
                flush();
            });
        }
    }

    private void release(Pending command) {
        if (!command.released) {
            command.released = true;
            inFlight.remove(command.call);
        }
    }

    /** Writes the replies whose turn has come. */
    private void drain() {
        ByteBuf out = null;
        while (!unanswered.isEmpty() && unanswered.peek().answered()) {
            Pending command = unanswered.poll();
            Reply reply = reply(command);
            if (!command.call.command().isEmpty()) {
                metrics.answered(command.call.command(), result(reply),
                        (System.nanoTime() - command.arrivedNanos) / 1e9);
            }
            if (!ctx.channel().isActive()) {
                continue;
            }
            if (out == null) {
                out = ctx.alloc().ioBuffer();
            }
            reply.writeTo(out, command.protocol);
            if (command.closeAfter) {
                ctx.writeAndFlush(out).addListener(ChannelFutureListener.CLOSE);
                unflushed = false;
                return;
            } else if (out.readableBytes() >= WRITE_CHUNK) {
                ctx.write(out);
                out = null;
                unflushed = true;
            }
        }
        if (out != null) {
            ctx.write(out);
            unflushed = true;
        }
    }

    private Reply reply(Pending command) {
        try {
            return command.call.reply().apply(command.result.join());
        } catch (RuntimeException e) {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof Args.Invalid invalid) {
                return invalid.reply; // an argument checked as the call started
            }
            LOG.warn("'{}' failed in the store or in its reply", command.call.command(), cause);
            return Reply.error("ERR internal error");
        }
    }

    private static RespMetrics.Result result(Reply reply) {
        if (reply instanceof Reply.Error error) {
            return error.tryAgain() ? RespMetrics.Result.TRYAGAIN : RespMetrics.Result.ERROR;
        }
        return RespMetrics.Result.OK;
    }

    private void flush() {
        if (unflushed) {
            unflushed = false;
            ctx.flush();
        }
    }

    private void updateReading() {
        int limit = reading ? MAX_IN_FLIGHT : MAX_IN_FLIGHT / 2;
        boolean read = !closing && unanswered.size() < limit && ctx.channel().isWritable();
        if (read != reading) {
            reading = read;
            ctx.channel().config().setAutoRead(read);
        }
    }

    /**
     * The keys the connection's started, unfinished commands touch: a command may start when it reads no key being
     * written and writes no key being read or written (and nothing is being written while it reads them all).
     */
    private static final class KeysInFlight {
        private final Map<String, Integer> readers = new HashMap<>();
        private final Map<String, Integer> writers = new HashMap<>();
        private int readingAll;
        private int writing;

        boolean allows(Call<?> call) {
            return switch (call.access()) {
                case NONE -> true;
                case READ_ALL -> writing == 0;
                case READ -> call.keys().stream().noneMatch(writers::containsKey);
                case WRITE -> readingAll == 0
                        && call.keys().stream().noneMatch(k -> writers.containsKey(k) || readers.containsKey(k));
            };
        }

        void add(Call<?> call) {
            change(call, 1);
        }

        void remove(Call<?> call) {
            change(call, -1);
        }

        private void change(Call<?> call, int delta) {
            switch (call.access()) {
                case NONE -> {
                }
                case READ_ALL -> readingAll += delta;
                case READ -> call.keys().forEach(k -> readers.merge(k, delta, Connection::sumOrNull));
                case WRITE -> {
                    writing += delta;
                    call.keys().forEach(k -> writers.merge(k, delta, Connection::sumOrNull));
                }
            }
        }
    }

    /** A count that drops its key at zero. */
    private static Integer sumOrNull(Integer a, Integer b) {
        int sum = a + b;
        return sum == 0 ? null : sum;
    }
}
