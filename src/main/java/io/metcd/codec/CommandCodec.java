package io.metcd.codec;

import io.metcd.model.Command;
import io.metcd.model.Operation.Proposal;
import io.metcd.model.Result;

import java.util.ArrayList;
import java.util.List;

/**
 * The encodings of client writes, in log entries and forwarded to the leader, and of their {@link Result}s, which the
 * leader sends back: one tag byte per command, condition, expiry and result, then their fields. Decoding checks every
 * tag and every value a command's constructor would refuse, as {@link CodecException}s.
 */
final class CommandCodec {
    private static final byte PUT = 1;
    private static final byte DELETE = 2;
    private static final byte INCREMENT = 3;
    private static final byte APPEND = 4;
    private static final byte PUT_ALL = 5;
    private static final byte EXPIRE = 6;
    private static final byte PERSIST = 7;
    private static final byte EXPIRE_DUE = 8;

    private static final byte ALWAYS = 0;
    private static final byte ABSENT = 1;
    private static final byte PRESENT = 2;
    private static final byte MOD_REVISION = 3;

    private static final byte PERMANENT = 0;
    private static final byte KEEP = 1;
    private static final byte AFTER = 2;

    private static final byte APPLIED = 1;
    private static final byte REFUSED = 2;
    private static final Result.Refusal[] REFUSALS = Result.Refusal.values();

    /** The smallest encoded proposal: origin, sequence number, tag, a key's length. */
    private static final int MIN_PROPOSAL_BYTES = 4 + 8 + 1 + 4;

    private CommandCodec() {
    }

    static void writeProposals(Writer out, List<Proposal> proposals) {
        out.i32(proposals.size());
        for (Proposal p : proposals) {
            out.i32(p.origin()).i64(p.seq());
            writeCommand(out, p.command());
        }
    }

    /**
     * An unmodifiable list, as the leader's own batches are: a follower's log keeps every entry's list until the next
     * snapshot, and one of one or two proposals (most of them under load) takes 24 bytes so, against 48 as a list
     * that can grow.
     */
    static List<Proposal> readProposals(Reader in) {
        Proposal[] proposals = new Proposal[in.count(MIN_PROPOSAL_BYTES)];
        for (int i = 0; i < proposals.length; i++) {
            proposals[i] = new Proposal(in.i32(), in.i64(), readCommand(in));
        }
        return List.of(proposals);
    }

    static void writeCommand(Writer out, Command command) {
        switch (command) {
            case Command.Put c -> {
                out.u8(PUT).string(c.key()).bytes(c.value());
                writeCondition(out, c.condition());
                writeExpiry(out, c.expiry());
                out.bool(c.returnPrevious());
            }
            case Command.Delete c -> {
                out.u8(DELETE).i32(c.keys().size());
                c.keys().forEach(out::string);
                writeCondition(out, c.condition());
            }
            case Command.Increment c -> out.u8(INCREMENT).string(c.key()).i64(c.delta());
            case Command.Append c -> out.u8(APPEND).string(c.key()).bytes(c.suffix());
            case Command.PutAll c -> {
                out.u8(PUT_ALL).i32(c.pairs().size());
                c.pairs().forEach(p -> out.string(p.key()).bytes(p.value()));
            }
            case Command.Expire c -> out.u8(EXPIRE).string(c.key()).i64(c.millis());
            case Command.Persist c -> out.u8(PERSIST).string(c.key());
            case Command.ExpireDue c -> {
                out.u8(EXPIRE_DUE).i32(c.keys().size());
                c.keys().forEach(d -> out.string(d.key()).i64(d.modRevision()));
            }
        }
    }

    static Command readCommand(Reader in) {
        byte tag = in.u8();
        try {
            return switch (tag) {
                case PUT -> new Command.Put(in.string(), in.bytes(), readCondition(in), readExpiry(in), in.bool());
                case DELETE -> {
                    int count = in.count(4);
                    List<String> keys = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        keys.add(in.string());
                    }
                    yield new Command.Delete(keys, readCondition(in));
                }
                case INCREMENT -> new Command.Increment(in.string(), in.i64());
                case APPEND -> new Command.Append(in.string(), in.bytes());
                case PUT_ALL -> {
                    int count = in.count(8);
                    List<Command.KeyValue> pairs = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        pairs.add(new Command.KeyValue(in.string(), in.bytes()));
                    }
                    yield new Command.PutAll(pairs);
                }
                case EXPIRE -> new Command.Expire(in.string(), in.i64());
                case PERSIST -> new Command.Persist(in.string());
                case EXPIRE_DUE -> {
                    int count = in.count(12);
                    List<Command.Due> keys = new ArrayList<>(count);
                    for (int i = 0; i < count; i++) {
                        keys.add(new Command.Due(in.string(), in.i64()));
                    }
                    yield new Command.ExpireDue(keys);
                }
                default -> throw new CodecException("unknown command tag " + tag);
            };
        } catch (IllegalArgumentException e) {
            throw new CodecException("bad command: " + e.getMessage());
        }
    }

    private static void writeCondition(Writer out, Command.Condition condition) {
        switch (condition) {
            case Command.Condition.Always c -> out.u8(ALWAYS);
            case Command.Condition.Absent c -> out.u8(ABSENT);
            case Command.Condition.Present c -> out.u8(PRESENT);
            case Command.Condition.ModRevision c -> out.u8(MOD_REVISION).i64(c.revision());
        }
    }

    private static Command.Condition readCondition(Reader in) {
        byte tag = in.u8();
        return switch (tag) {
            case ALWAYS -> Command.Condition.NONE;
            case ABSENT -> Command.Condition.ABSENT;
            case PRESENT -> Command.Condition.PRESENT;
            case MOD_REVISION -> Command.Condition.modRevision(in.i64());
            default -> throw new CodecException("unknown condition tag " + tag);
        };
    }

    private static void writeExpiry(Writer out, Command.Expiry expiry) {
        switch (expiry) {
            case Command.Expiry.Permanent e -> out.u8(PERMANENT);
            case Command.Expiry.Keep e -> out.u8(KEEP);
            case Command.Expiry.After e -> out.u8(AFTER).i64(e.millis());
        }
    }

    private static Command.Expiry readExpiry(Reader in) {
        byte tag = in.u8();
        return switch (tag) {
            case PERMANENT -> Command.Expiry.NONE;
            case KEEP -> Command.Expiry.KEEP;
            case AFTER -> Command.Expiry.after(in.i64());
            default -> throw new CodecException("unknown expiry tag " + tag);
        };
    }

    static void writeResults(Writer out, List<Result> results) {
        out.i32(results.size());
        for (Result result : results) {
            switch (result) {
                case Result.Applied r -> writeNullable(out.u8(APPLIED).i64(r.revision()), r.previous()).i64(r.number());
                case Result.Refused r -> writeNullable(out.u8(REFUSED).u8(r.refusal().ordinal()), r.previous());
            }
        }
    }

    static List<Result> readResults(Reader in) {
        int count = in.count(2);
        List<Result> results = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte tag = in.u8();
            results.add(switch (tag) {
                case APPLIED -> new Result.Applied(in.i64(), readNullable(in), in.i64());
                case REFUSED -> {
                    int refusal = in.u8();
                    if (refusal < 0 || refusal >= REFUSALS.length) {
                        throw new CodecException("unknown refusal " + refusal);
                    }
                    yield new Result.Refused(REFUSALS[refusal], readNullable(in));
                }
                default -> throw new CodecException("unknown result tag " + tag);
            });
        }
        return results;
    }

    private static Writer writeNullable(Writer out, byte[] bytes) {
        out.bool(bytes != null);
        return bytes == null ? out : out.bytes(bytes);
    }

    private static byte[] readNullable(Reader in) {
        return in.bool() ? in.bytes() : null;
    }
}
