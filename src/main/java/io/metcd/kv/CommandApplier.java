package io.metcd.kv;

import io.metcd.model.Command;
import io.metcd.model.Decimal;
import io.metcd.model.Result;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What each {@link Command} does to the store: decided from the state it is applied to and the log's time alone, so
 * that every node and engine that applies the same log reaches the same state and the same {@link Result}s. A command
 * that changes something takes the next revision, all of its keys with it; one that changes nothing (a refused one, a
 * delete of absent keys) takes none and leaves no event.
 */
final class CommandApplier {
    private CommandApplier() {
    }

    static Result apply(Pass pass, Command command) {
        return switch (command) {
            case Command.Put c -> put(pass, c);
            case Command.Delete c -> delete(pass, c);
            case Command.Increment c -> increment(pass, c);
            case Command.Append c -> append(pass, c);
            case Command.PutAll c -> putAll(pass, c);
            case Command.Expire c -> expire(pass, c);
            case Command.Persist c -> persist(pass, c);
            case Command.ExpireDue c -> expireDue(pass, c);
        };
    }

    private static Result put(Pass pass, Command.Put c) {
        Record before = pass.get(c.key());
        byte[] previous = c.returnPrevious() && before != null ? before.value() : null;
        if (!holds(c.condition(), before)) {
            return new Result.Refused(Result.Refusal.PRECONDITION_FAILED, previous);
        }
        long expiresAt = switch (c.expiry()) {
            case Command.Expiry.Permanent p -> 0;
            case Command.Expiry.Keep k -> before == null ? 0 : before.expiresAt();
            case Command.Expiry.After a -> pass.time() + a.millis();
        };
        write(pass, c.key(), before, c.value(), expiresAt);
        return applied(pass, previous, 0);
    }

    private static Result delete(Pass pass, Command.Delete c) {
        if (!holds(c.condition(), pass.get(c.keys().getFirst()))) {
            return new Result.Refused(Result.Refusal.PRECONDITION_FAILED, null);
        }
        long deleted = 0;
        for (String key : c.keys()) {
            if (pass.get(key) != null) {
                pass.delete(key);
                deleted++;
            }
        }
        return changed(pass, deleted);
    }

    private static Result increment(Pass pass, Command.Increment c) {
        Record before = pass.get(c.key());
        Long current = before == null ? Long.valueOf(0) : Decimal.parse(before.value());
        if (current == null) {
            return new Result.Refused(Result.Refusal.NOT_AN_INTEGER, null);
        }
        long sum;
        try {
            sum = Math.addExact(current, c.delta());
        } catch (ArithmeticException e) {
            return new Result.Refused(Result.Refusal.OVERFLOW, null);
        }
        write(pass, c.key(), before, Long.toString(sum).getBytes(StandardCharsets.US_ASCII),
                before == null ? 0 : before.expiresAt());
        return applied(pass, null, sum);
    }

    private static Result append(Pass pass, Command.Append c) {
        Record before = pass.get(c.key());
        byte[] old = before == null ? new byte[0] : before.value();
        if ((long) old.length + c.suffix().length > Command.MAX_VALUE_BYTES) {
            return new Result.Refused(Result.Refusal.TOO_LARGE, null);
        }
        byte[] joined = new byte[old.length + c.suffix().length];
        System.arraycopy(old, 0, joined, 0, old.length);
        System.arraycopy(c.suffix(), 0, joined, old.length, c.suffix().length);
        write(pass, c.key(), before, joined, before == null ? 0 : before.expiresAt());
        return applied(pass, null, joined.length);
    }

    /** A key named twice takes its last value, as Redis's MSET does, and one event. */
    private static Result putAll(Pass pass, Command.PutAll c) {
        Map<String, byte[]> last = new LinkedHashMap<>();
        c.pairs().forEach(p -> last.put(p.key(), p.value()));
        last.forEach((key, value) -> write(pass, key, pass.get(key), value, 0));
        return applied(pass, null, 0);
    }

    /** A new deadline changes the key: a new revision, so that an expiry the leader proposed for the old one misses. */
    private static Result expire(Pass pass, Command.Expire c) {
        Record before = pass.get(c.key());
        if (before == null) {
            return unchanged(pass);
        }
        if (c.millis() <= 0) {
            pass.delete(c.key());
        } else {
            write(pass, c.key(), before, before.value(), pass.time() + c.millis());
        }
        return applied(pass, null, 1);
    }

    private static Result persist(Pass pass, Command.Persist c) {
        Record before = pass.get(c.key());
        if (before == null || !before.expires()) {
            return unchanged(pass);
        }
        write(pass, c.key(), before, before.value(), 0);
        return applied(pass, null, 1);
    }

    /**
     * Deletes only what is still due by the log's time with the revision the leader saw: a key written since, or a
     * batch stamped by a new leader whose clock is behind, leaves the key for a later expiry.
     */
    private static Result expireDue(Pass pass, Command.ExpireDue c) {
        long deleted = 0;
        for (Command.Due due : c.keys()) {
            Record r = pass.get(due.key());
            if (r != null && r.modRevision() == due.modRevision() && r.expires() && r.expiresAt() <= pass.time()) {
                pass.delete(due.key());
                deleted++;
            }
        }
        return changed(pass, deleted);
    }

    private static boolean holds(Command.Condition condition, Record before) {
        return switch (condition) {
            case Command.Condition.Always a -> true;
            case Command.Condition.Absent a -> before == null;
            case Command.Condition.Present p -> before != null;
            case Command.Condition.ModRevision m -> before != null && before.modRevision() == m.revision();
        };
    }

    private static void write(Pass pass, String key, Record before, byte[] value, long expiresAt) {
        long revision = pass.nextRevision();
        pass.put(key, before, before == null ? new Record(value, revision, revision, 1, expiresAt)
                : new Record(value, before.createRevision(), revision, before.version() + 1, expiresAt));
    }

    /** The command changed something: it takes the next revision. */
    private static Result applied(Pass pass, byte[] previous, long number) {
        pass.commitRevision();
        return new Result.Applied(pass.meta().revision(), previous, number);
    }

    private static Result changed(Pass pass, long count) {
        return count == 0 ? unchanged(pass) : applied(pass, null, count);
    }

    private static Result unchanged(Pass pass) {
        return new Result.Applied(pass.meta().revision(), null, 0);
    }
}
