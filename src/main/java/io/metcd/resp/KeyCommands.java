package io.metcd.resp;

import io.metcd.model.Decimal;
import io.metcd.resp.Call.Access;
import io.metcd.resp.Commands.Spec;
import io.metcd.resp.Keyspace.Condition;
import io.metcd.resp.Keyspace.Entry;
import io.metcd.resp.Keyspace.Expiry;
import io.metcd.resp.Keyspace.SetOptions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The commands on keys: reads at the connection's read level, writes decided by the store. Each parses its arguments
 * as Redis does (same errors, same replies) and makes one call to the {@link Keyspace}.
 */
final class KeyCommands {
    /**
     * The longest time to live taken, about 146 million years: a store adds it to a clock reading in milliseconds
     * without overflow. Redis refuses what would overflow its own clock the same way.
     */
    static final long MAX_TTL_MILLIS = Long.MAX_VALUE / 2;
    /** Commands Redis files under "generic" rather than "string" (COMMAND DOCS). */
    private static final Set<String> GENERIC = Set.of("exists", "type", "ttl", "pttl", "del",
            "unlink", "expire", "pexpire", "persist");

    private final Keyspace store;
    private final ScanCursors cursors = new ScanCursors();

    KeyCommands(Keyspace store) {
        this.store = store;
    }

    List<Spec> specs() {
        return List.of(
                read("get", 2, 1, 1, "1.0.0", "The value of a key", (s, a) -> readOne(s, a, e -> e == null
                        ? Reply.NIL : new Reply.Bulk(e.value()))),
                read("mget", -2, 1, -1, "1.0.0", "The values of keys", this::mget),
                read("exists", -2, 1, -1, "1.0.0", "How many of the keys exist", this::exists),
                read("strlen", 2, 1, 1, "2.2.0", "The length of a key's value", (s, a) -> readOne(s, a, e -> e == null
                        ? Reply.ZERO : new Reply.Int(e.value().length))),
                read("type", 2, 1, 1, "1.0.0", "string, or none for an absent key", (s, a) -> readOne(s, a,
                        e -> new Reply.Simple(e == null ? "none" : "string"))),
                read("ttl", 2, 1, 1, "1.0.0", "Seconds left before a key expires", (s, a) -> readOne(s, a,
                        e -> ttl(e, true))),
                read("pttl", 2, 1, 1, "2.6.0", "Milliseconds left before a key expires", (s, a) -> readOne(s, a,
                        e -> ttl(e, false))),
                readAll("dbsize", 1, "1.0.0", "How many keys there are", (s, a) -> Call.store(
                        () -> store.count(s.readLevel), count -> new Reply.Int(count.keys()))),
                readAll("keys", 2, "1.0.0", "Every key matching a glob pattern", this::keys),
                readAll("scan", -2, "2.8.0", "A page of keys: SCAN cursor [MATCH pattern] [COUNT n] [TYPE string]",
                        this::scan),
                write("set", -3, 1, 1, "1.0.0",
                        "Sets a key: SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]", this::set),
                write("setnx", 3, 1, 1, "1.0.0", "Sets a key only if it is absent", (s, a) -> Call.store(
                        () -> store.set(a.key(1), a.bytes(2), new SetOptions(Condition.IF_ABSENT, Expiry.NONE, false)),
                        result -> Reply.of(result.written()))),
                write("getset", 3, 1, 1, "1.0.0", "Sets a key and answers its previous value", (s, a) -> Call.store(
                        () -> store.set(a.key(1), a.bytes(2), new SetOptions(Condition.ALWAYS, Expiry.NONE, true)),
                        result -> new Reply.Bulk(result.previous()))),
                write("mset", -3, 1, -1, 2, "1.0.1", "Sets keys, all in one write", this::mset),
                write("del", -2, 1, -1, "1.0.0", "Deletes keys; answers how many existed", this::delete),
                write("unlink", -2, 1, -1, "4.0.0", "DEL, as metcd frees nothing in the background", this::delete),
                write("incr", 2, 1, 1, "1.0.0", "Adds 1 to a key's integer", (s, a) -> increment(a.key(1), 1)),
                write("decr", 2, 1, 1, "1.0.0", "Takes 1 from a key's integer", (s, a) -> increment(a.key(1), -1)),
                write("incrby", 3, 1, 1, "1.0.0", "Adds to a key's integer", (s, a) -> increment(a.key(1),
                        a.integer(2))),
                write("decrby", 3, 1, 1, "1.0.0", "Takes from a key's integer", this::decrby),
                write("append", 3, 1, 1, "2.0.0", "Appends to a key's value; answers the new length", (s, a) ->
                        Call.store(() -> store.append(a.key(1), a.bytes(2)), Reply.Int::new)),
                write("expire", -3, 1, 1, "1.0.0", "Sets a key to expire in seconds", (s, a) -> expire(a, 1000)),
                write("pexpire", -3, 1, 1, "2.6.0", "Sets a key to expire in milliseconds", (s, a) -> expire(a, 1)),
                write("persist", 2, 1, 1, "2.2.0", "Makes a key permanent", (s, a) -> Call.store(
                        () -> store.persist(a.key(1)), Reply::of)));
    }

    // ------------------------------------------------------------------------------------------------------ reads

    private Call<?> readOne(Session session, Args args, Function<Entry, Reply> reply) {
        Keyspace.ReadLevel level = session.readLevel;
        String key = args.key(1);
        return Call.store(() -> store.read(List.of(key), level), entries -> reply.apply(entries.get(0)));
    }

    private Call<?> mget(Session session, Args args) {
        Keyspace.ReadLevel level = session.readLevel;
        List<String> keys = keys(args, 1);
        return Call.store(() -> store.read(keys, level), entries -> new Reply.Array(entries.stream()
                .map(e -> e == null ? Reply.NIL : new Reply.Bulk(e.value())).toList()));
    }

    private Call<?> exists(Session session, Args args) {
        Keyspace.ReadLevel level = session.readLevel;
        List<String> keys = keys(args, 1);
        return Call.store(() -> store.read(keys, level), entries -> new Reply.Int(entries.stream()
                .filter(e -> e != null).count()));
    }

    /** TTL rounds to the nearest second, as Redis does; -2 for an absent key, -1 for one that does not expire. */
    private static Reply ttl(Entry entry, boolean seconds) {
        if (entry == null) {
            return new Reply.Int(-2);
        } else if (entry.ttlMillis() == Entry.NO_EXPIRY) {
            return new Reply.Int(-1);
        }
        return new Reply.Int(seconds ? (entry.ttlMillis() + 500) / 1000 : entry.ttlMillis());
    }

    private Call<?> keys(Session session, Args args) {
        Keyspace.ReadLevel level = session.readLevel;
        Glob pattern = new Glob(args.text(1));
        return Call.store(() -> store.keys(pattern.literalPrefix(), null, Integer.MAX_VALUE, level),
                page -> new Reply.Array(page.keys().stream().filter(pattern::matches).map(Reply::bulk).toList()));
    }

    /**
     * SCAN pages through the keys in byte order (see {@link ScanCursors}); as in Redis, MATCH and TYPE filter each
     * page after it is read, so that a page may come back empty while the scan goes on.
     */
    private Call<?> scan(Session session, Args args) {
        Keyspace.ReadLevel level = session.readLevel;
        Long cursor = Decimal.parse(args.bytes(1));
        String after = cursor == null || cursor < 0 ? null : cursor == 0 ? null : cursors.after(cursor);
        if (cursor == null || cursor < 0 || cursor != 0 && after == null) {
            throw new Args.Invalid("ERR invalid cursor");
        }
        Glob pattern = new Glob("*");
        int count = 10;
        boolean strings = true;
        for (int i = 2; i < args.size(); i += 2) {
            if (i + 1 == args.size()) {
                throw new Args.Invalid("ERR syntax error");
            } else if (args.is(i, "MATCH")) {
                pattern = new Glob(args.text(i + 1));
            } else if (args.is(i, "COUNT")) {
                long n = args.integer(i + 1);
                if (n < 1) {
                    throw new Args.Invalid("ERR syntax error");
                }
                count = (int) Math.min(n, Integer.MAX_VALUE);
            } else if (args.is(i, "TYPE")) {
                strings = args.is(i + 1, "string");
            } else {
                throw new Args.Invalid("ERR syntax error");
            }
        }
        Glob match = pattern;
        boolean anyKey = strings;
        int limit = count;
        return Call.store(() -> store.keys(match.literalPrefix(), after, limit, level), page -> {
            List<String> keys = page.keys();
            long next = page.more() && !keys.isEmpty() ? cursors.issue(keys.get(keys.size() - 1)) : 0;
            List<Reply> matched = anyKey
                    ? keys.stream().filter(match::matches).map(Reply::bulk).toList()
                    : List.of();
            return new Reply.Array(List.of(Reply.bulk(Long.toString(next)), new Reply.Array(matched)));
        });
    }

    // ----------------------------------------------------------------------------------------------------- writes

    private Call<?> set(Session session, Args args) {
        Condition condition = Condition.ALWAYS;
        Expiry expiry = Expiry.NONE;
        boolean get = false;
        for (int i = 3; i < args.size(); i++) {
            String option = args.text(i).toUpperCase(Locale.ROOT);
            switch (option) {
                case "NX", "XX" -> {
                    if (condition != Condition.ALWAYS) {
                        throw new Args.Invalid("ERR syntax error");
                    }
                    condition = option.equals("NX") ? Condition.IF_ABSENT : Condition.IF_PRESENT;
                }
                case "GET" -> get = true;
                case "KEEPTTL" -> {
                    if (expiry != Expiry.NONE) {
                        throw new Args.Invalid("ERR syntax error");
                    }
                    expiry = Expiry.KEEP;
                }
                case "EX", "PX" -> {
                    if (expiry != Expiry.NONE || i + 1 == args.size()) {
                        throw new Args.Invalid("ERR syntax error");
                    }
                    expiry = Expiry.after(expiryMillis(args.integer(++i), option.equals("EX") ? 1000 : 1, "set"));
                }
                case "EXAT", "PXAT" -> throw new Args.Invalid("ERR " + option
                        + " is not supported: metcd takes expiry times relative to the write, not by a client's clock");
                default -> throw new Args.Invalid("ERR syntax error");
            }
        }
        SetOptions options = new SetOptions(condition, expiry, get);
        boolean answerPrevious = get;
        return Call.store(() -> store.set(args.key(1), args.bytes(2), options), result -> answerPrevious
                ? new Reply.Bulk(result.previous())
                : result.written() ? Reply.OK : Reply.NIL);
    }

    /** A time to live in milliseconds from a count of {@code unit} ms; Redis's error when not positive or too long. */
    private static long expiryMillis(long amount, long unit, String command) {
        if (amount <= 0 || amount > MAX_TTL_MILLIS / unit) {
            throw new Args.Invalid("ERR invalid expire time in '" + command + "' command");
        }
        return amount * unit;
    }

    private Call<?> mset(Session session, Args args) {
        if (args.size() % 2 == 0) {
            throw new Args.Invalid(Commands.wrongArguments("mset"));
        }
        Map<String, byte[]> values = new LinkedHashMap<>();
        for (int i = 1; i < args.size(); i += 2) {
            values.put(args.key(i), args.bytes(i + 1)); // a key given twice takes its last value, as in Redis
        }
        return Call.store(() -> store.setAll(values), done -> Reply.OK);
    }

    private Call<?> delete(Session session, Args args) {
        List<String> distinct = new ArrayList<>(new LinkedHashSet<>(keys(args, 1)));
        return Call.store(() -> store.delete(distinct), Reply.Int::new);
    }

    private Call<?> decrby(Session session, Args args) {
        long delta = args.integer(2);
        if (delta == Long.MIN_VALUE) {
            throw new Args.Invalid("ERR decrement would overflow");
        }
        return increment(args.key(1), -delta);
    }

    private Call<?> increment(String key, long delta) {
        return Call.store(() -> store.increment(key, delta), Reply.Int::new);
    }

    /** EXPIRE and PEXPIRE; a time of 0 or less deletes the key, as in Redis. Their NX/XX/GT/LT are not supported. */
    private Call<?> expire(Args args, long unit) {
        if (args.size() > 3) {
            throw new Args.Invalid("ERR Unsupported option " + args.text(3));
        }
        long amount = args.integer(2);
        String command = args.lower(0);
        if (amount > MAX_TTL_MILLIS / unit || amount < -MAX_TTL_MILLIS / unit) {
            throw new Args.Invalid("ERR invalid expire time in '" + command + "' command");
        }
        long millis = amount * unit;
        return Call.store(() -> store.expire(args.key(1), millis), Reply::of);
    }

    // ---------------------------------------------------------------------------------------------------- helpers

    private static List<String> keys(Args args, int from) {
        List<String> keys = new ArrayList<>(args.size() - from);
        for (int i = from; i < args.size(); i++) {
            keys.add(args.key(i));
        }
        return keys;
    }

    private static Spec read(String name, int arity, int firstKey, int lastKey, String since, String summary,
            Commands.Handler handler) {
        return new Spec(name, arity, Access.READ, firstKey, lastKey, 1, group(name), since, summary, handler);
    }

    private static Spec readAll(String name, int arity, String since, String summary, Commands.Handler handler) {
        return new Spec(name, arity, Access.READ_ALL, 0, 0, 0, "generic", since, summary, handler);
    }

    private static Spec write(String name, int arity, int firstKey, int lastKey, String since, String summary,
            Commands.Handler handler) {
        return write(name, arity, firstKey, lastKey, 1, since, summary, handler);
    }

    private static Spec write(String name, int arity, int firstKey, int lastKey, int step, String since,
            String summary, Commands.Handler handler) {
        return new Spec(name, arity, Access.WRITE, firstKey, lastKey, step, group(name), since, summary, handler);
    }

    private static String group(String name) {
        return GENERIC.contains(name) ? "generic" : "string";
    }
}
