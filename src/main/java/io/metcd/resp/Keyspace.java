package io.metcd.resp;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The replicated store as the Redis commands see it: the reads and writes their semantics need, each decided by the
 * store, so that a Redis client and an HTTP client see one store. The Redis layer parses and checks commands, orders
 * them per connection and turns outcomes into replies; everything here happens below it.
 * <p>
 * Contract, for every method:
 * <ul>
 * <li><b>Non-blocking.</b> Called on a network event loop: a call does bounded work and returns its future at once.
 * The future may complete on any thread; the caller does no heavy work there.</li>
 * <li><b>Bounded.</b> The future completes, normally, within the store's request deadline (a few seconds), with an
 * {@link Outcome}: {@link Outcome.Unavailable} when no leader, quorum or commit came in time. Completing it
 * exceptionally is a defect (the client gets {@code -ERR internal error}).</li>
 * <li><b>Writes</b> are answered once committed by a majority and applied on this node; their conditions and
 * results (NX, XX, the previous value, INCR's new value, DEL's count) are decided where the write is applied, from
 * the state it is applied to, identically on every node. Writes from many connections may be grouped into one Raft
 * batch.</li>
 * <li><b>Reads</b> at {@link ReadLevel#DEFAULT} see every write acknowledged before the read was made (the HTTP
 * {@code default} level); at {@link ReadLevel#STALE}, this node's applied state at once. A read of several keys sees
 * them in one applied state (never half of an {@link #setAll}).</li>
 * <li><b>Order.</b> Concurrent calls may be carried out in any order. The caller orders what must be: a connection
 * makes a call only once the earlier calls touching the same keys have completed.</li>
 * <li><b>Keys</b> are 1 to 4096 bytes of UTF-8, values at most 1 MiB: the caller checks both.</li>
 * <li><b>Expiry</b> is replicated: a time to live given to a write becomes a deadline fixed once for every node (by
 * the leader, when it orders the write), and the key's removal at the deadline is itself a replicated write. No node
 * decides an expiry by its own clock.</li>
 * </ul>
 */
public interface Keyspace {

    /** How fresh a read must be: the HTTP API's levels of the same names. */
    enum ReadLevel {
        /** This node's applied state, at once (Redis {@code READONLY}). */
        STALE,
        /** Every write acknowledged before the read was made, served under the leader's lease. */
        DEFAULT
    }

    /**
     * A key as read.
     *
     * @param ttlMillis the milliseconds left before the key expires, never negative, or {@link #NO_EXPIRY}
     */
    record Entry(byte[] value, long ttlMillis) {
        public static final long NO_EXPIRY = -1;
    }

    /**
     * One page of keys, in byte order of their UTF-8 encoding.
     *
     * @param more whether there are keys (under the page's prefix) after the last one of this page
     */
    record KeyPage(List<String> keys, boolean more) {
    }

    /** How many keys there are, and how many of those have a time to live. */
    record KeyCount(long keys, long expiring) {
    }

    /** When a {@link #set} writes. */
    enum Condition {
        ALWAYS,
        /** Only if the key is absent (Redis NX). */
        IF_ABSENT,
        /** Only if the key is present (Redis XX). */
        IF_PRESENT
    }

    /** What a {@link #set} does to the key's time to live. */
    sealed interface Expiry {
        /** The key is permanent after the write (a plain SET, as a PUT without {@code ttl}). */
        Expiry NONE = new None();
        /** The key keeps the time to live it had, if any (Redis KEEPTTL). */
        Expiry KEEP = new Keep();

        /** The key expires {@code millis} (at least 1) after the write. */
        static Expiry after(long millis) {
            return new After(millis);
        }

        record None() implements Expiry {
        }

        record Keep() implements Expiry {
        }

        record After(long millis) implements Expiry {
        }
    }

    /**
     * @param returnPrevious whether the result carries the value the key had before (Redis GET option); when false
     *                       the store need not read it
     */
    record SetOptions(Condition condition, Expiry expiry, boolean returnPrevious) {
        public static final SetOptions PLAIN = new SetOptions(Condition.ALWAYS, Expiry.NONE, false);
    }

    /**
     * @param written  whether the condition held and the value was written
     * @param previous the value before the write ({@code null} if the key was absent or it was not asked for)
     */
    record SetResult(boolean written, byte[] previous) {
    }

    // ------------------------------------------------------------------------------------------------ reads

    /** The keys' entries, in the order asked, {@code null} for an absent key; all from one applied state. */
    CompletableFuture<Outcome<List<Entry>>> read(List<String> keys, ReadLevel level);

    /** How many keys the store holds. */
    CompletableFuture<Outcome<KeyCount>> count(ReadLevel level);

    /**
     * Up to {@code limit} keys that start with {@code prefix} and come after {@code after} in byte order, from one
     * applied state.
     *
     * @param prefix "" for every key
     * @param after  {@code null} to start at the first key (under the prefix)
     * @param limit  at least 1; {@link Integer#MAX_VALUE} when KEYS asks for all of them at once
     */
    CompletableFuture<Outcome<KeyPage>> keys(String prefix, String after, int limit, ReadLevel level);

    // ------------------------------------------------------------------------------------------------ writes

    /** Writes {@code value} under {@code key} if the condition holds; {@link Expiry} says what happens to its TTL. */
    CompletableFuture<Outcome<SetResult>> set(String key, byte[] value, SetOptions options);

    /** Writes every pair as one write, applied whole or not at all; each key becomes permanent (Redis MSET). */
    CompletableFuture<Outcome<Void>> setAll(Map<String, byte[]> values);

    /** Deletes the keys (distinct) as one write; done with how many of them existed. */
    CompletableFuture<Outcome<Long>> delete(List<String> keys);

    /**
     * Adds {@code delta} to the integer the key holds (an absent key holding 0), keeping its time to live; done with
     * the new value. Refused with {@link Outcome.Refusal#NOT_AN_INTEGER} when the value is not the decimal text of a
     * signed 64-bit integer (no sign but '-', no leading zeros, no spaces: Redis's rule), with
     * {@link Outcome.Refusal#OVERFLOW} when the sum leaves the 64-bit range.
     */
    CompletableFuture<Outcome<Long>> increment(String key, long delta);

    /**
     * Appends {@code suffix} to the key's value (an absent key holding ""), keeping its time to live; done with the new
     * length. Refused with {@link Outcome.Refusal#TOO_LARGE} when that would exceed 1 MiB.
     */
    CompletableFuture<Outcome<Long>> append(String key, byte[] suffix);

    /**
     * Sets the key to expire {@code millis} after the write; {@code millis} of 0 or less deletes it now. Done with
     * whether the key existed (and so was changed).
     */
    CompletableFuture<Outcome<Boolean>> expire(String key, long millis);

    /** Makes the key permanent; done with whether it existed and had a time to live. */
    CompletableFuture<Outcome<Boolean>> persist(String key);
}
