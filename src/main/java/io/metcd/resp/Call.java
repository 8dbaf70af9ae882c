package io.metcd.resp;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A command, parsed and checked but not yet started: what it touches, how to start it, and how to turn what it gives
 * back into a reply. The connection starts it once no earlier command of its own that conflicts with it is still in
 * flight, and maps its result on its event loop when the reply's turn comes.
 *
 * @param command the command's name as metrics count it
 * @param keys    the keys it reads or writes
 * @param start   makes the call to the store; runs on the connection's event loop and must not block
 * @param reply   turns the call's result into the reply; runs on the event loop
 * @param <T>     what the call gives back
 */
record Call<T>(String command, Access access, List<String> keys, Supplier<CompletableFuture<T>> start,
        Function<? super T, Reply> reply) {

    /** What a call touches, for ordering the calls of one connection. */
    enum Access {
        /** No key: the connection's own state, the node's status, the cluster's membership. */
        NONE,
        READ,
        WRITE,
        /** Reads every key (DBSIZE, KEYS, SCAN). */
        READ_ALL
    }

    /** A reply known at once (an error, PONG, or a command on the connection's own state). */
    static Call<Reply> now(Reply reply) {
        return new Call<>("", Access.NONE, List.of(), () -> CompletableFuture.completedFuture(reply),
                Function.identity());
    }

    /** A call to the store, whose outcome becomes {@code done}'s reply when it is {@link Outcome.Done}. */
    static <T> Call<Outcome<T>> store(Supplier<CompletableFuture<Outcome<T>>> start, Function<? super T, Reply> done) {
        return new Call<>("", Access.NONE, List.of(), start, outcome -> switch (outcome) {
            case Outcome.Done<T> d -> done.apply(d.value());
            case Outcome.Unavailable<T> u -> Reply.error("TRYAGAIN " + u.reason());
            case Outcome.Refused<T> r -> refusal(r);
        });
    }

    /** The same call, named and placed: the command table knows both from the command's specification. */
    Call<T> as(String name, Access access, List<String> keys) {
        return new Call<>(name, access, keys, start, reply);
    }

    private static Reply refusal(Outcome.Refused<?> refused) {
        return Reply.error(switch (refused.refusal()) {
            case NOT_AN_INTEGER -> "ERR value is not an integer or out of range";
            case OVERFLOW -> "ERR increment or decrement would overflow";
            case TOO_LARGE -> "ERR value too large";
            case INVALID -> "ERR " + refused.detail();
        });
    }
}
