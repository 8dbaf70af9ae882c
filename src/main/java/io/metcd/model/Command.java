package io.metcd.model;

import java.util.List;

/**
 * What a client write asks of the store. A command is proposed, logged and then applied where writes are applied, on
 * every node, to the state it finds there: so its conditions and its result (the previous value, an increment's new
 * value, how many keys a delete removed) are decided the same way on every node and engine. Applying it yields a
 * {@link Result}: a refused command changes nothing and takes no revision.
 * <p>
 * Time comes from the log, never from the node applying: a time to live counts from the stamp the leader put on the
 * batch that carries the command.
 */
public sealed interface Command {
    /** The largest value a key may hold: an {@link Append} past it is refused. */
    int MAX_VALUE_BYTES = 1 << 20;

    /** About how many bytes the command takes in a log entry, to bound the entries. */
    int size();

    /** A plain write: unconditional, permanent, nothing returned but the revision. */
    static Put put(String key, byte[] value) {
        return new Put(key, value, Condition.NONE, Expiry.NONE, false);
    }

    /** A plain delete of one key. */
    static Delete delete(String key) {
        return new Delete(List.of(key), Condition.NONE);
    }

    /**
     * Writes {@code value} under {@code key} if {@code condition} holds.
     *
     * @param returnPrevious whether the result carries the value the key had (also when the condition failed)
     */
    record Put(String key, byte[] value, Condition condition, Expiry expiry, boolean returnPrevious)
            implements Command {
        @Override
        public int size() {
            return chars(key) + value.length;
        }
    }

    /**
     * Deletes the keys (distinct) as one change; the result's number is how many existed. A condition other than
     * {@link Condition#NONE} needs exactly one key.
     */
    record Delete(List<String> keys, Condition condition) implements Command {
        public Delete {
            keys = List.copyOf(keys);
            if (keys.isEmpty() || condition != Condition.NONE && keys.size() != 1) {
                throw new IllegalArgumentException("a delete names one key or more, and one only with a condition");
            }
        }

        @Override
        public int size() {
            return keys.stream().mapToInt(Command::chars).sum();
        }
    }

    /**
     * Adds {@code delta} to the decimal integer the key holds (an absent key holds 0), keeping its time to live; the
     * result's number is the new value. Refused as {@link Result.Refusal#NOT_AN_INTEGER} or
     * {@link Result.Refusal#OVERFLOW}.
     */
    record Increment(String key, long delta) implements Command {
        @Override
        public int size() {
            return chars(key) + Long.BYTES;
        }
    }

    /**
     * Appends {@code suffix} to the key's value (an absent key holds nothing), keeping its time to live; the result's
     * number is the new length. Refused as {@link Result.Refusal#TOO_LARGE} past {@link #MAX_VALUE_BYTES}.
     */
    record Append(String key, byte[] suffix) implements Command {
        @Override
        public int size() {
            return chars(key) + suffix.length;
        }
    }

    /** Writes every pair, each key permanent after it, as one change of one revision (Redis MSET). */
    record PutAll(List<KeyValue> pairs) implements Command {
        public PutAll {
            pairs = List.copyOf(pairs);
            if (pairs.isEmpty()) {
                throw new IllegalArgumentException("nothing to write");
            }
        }

        @Override
        public int size() {
            return pairs.stream().mapToInt(p -> chars(p.key()) + p.value().length).sum();
        }
    }

    record KeyValue(String key, byte[] value) {
    }

    /**
     * Makes an existing key expire {@code millis} after the batch's stamp; 0 or less deletes it now. The result's
     * number is 1 if the key existed, else 0.
     */
    record Expire(String key, long millis) implements Command {
        @Override
        public int size() {
            return chars(key) + Long.BYTES;
        }
    }

    /** Makes the key permanent; the result's number is 1 if it existed and had a time to live, else 0. */
    record Persist(String key) implements Command {
        @Override
        public int size() {
            return chars(key);
        }
    }

    /**
     * The leader's expiry: deletes each key that still has the modification revision the leader saw due, as one
     * change; a key written since keeps its new value. The result's number is how many it deleted.
     */
    record ExpireDue(List<Due> keys) implements Command {
        public ExpireDue {
            keys = List.copyOf(keys);
            if (keys.isEmpty()) {
                throw new IllegalArgumentException("nothing to expire");
            }
        }

        @Override
        public int size() {
            return keys.stream().mapToInt(d -> chars(d.key()) + Long.BYTES).sum();
        }
    }

    record Due(String key, long modRevision) {
    }

    /** When a {@link Put} or a {@link Delete} applies. */
    sealed interface Condition {
        Condition NONE = new Always();
        /** Only if the key is absent: a create ({@code If-None-Match: *}, Redis NX). */
        Condition ABSENT = new Absent();
        /** Only if the key exists ({@code If-Match: *}, Redis XX). */
        Condition PRESENT = new Present();

        /** Only if the key exists with this modification revision ({@code If-Match: "<rev>"}). */
        static Condition modRevision(long revision) {
            return new ModRevision(revision);
        }

        record Always() implements Condition {
        }

        record Absent() implements Condition {
        }

        record Present() implements Condition {
        }

        record ModRevision(long revision) implements Condition {
        }
    }

    /** What a {@link Put} does to the key's time to live. */
    sealed interface Expiry {
        /** Permanent after the write. */
        Expiry NONE = new Permanent();
        /** Keeps the time to live it had, if any (Redis KEEPTTL). */
        Expiry KEEP = new Keep();

        /** Expires {@code millis} (at least 1) after the stamp of the batch that carries the write. */
        static Expiry after(long millis) {
            if (millis < 1) {
                throw new IllegalArgumentException("a time to live is at least 1 ms, not " + millis);
            }
            return new After(millis);
        }

        record Permanent() implements Expiry {
        }

        record Keep() implements Expiry {
        }

        record After(long millis) implements Expiry {
        }
    }

    /** A key's length in chars: near enough its bytes to size an entry. */
    private static int chars(String s) {
        return s.length();
    }
}
