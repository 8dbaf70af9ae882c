package io.metcd.resp;

import io.metcd.resp.Call.Access;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The command table: every command's name, arity, the keys it touches and how it runs, and the checks all commands
 * share (unknown name, arity, key size). It also answers {@code COMMAND}, which describes the table to clients.
 */
final class Commands {
    static final int MAX_KEY_BYTES = 4096;

    /** Runs one command whose name, arity and keys were checked; may throw {@link Args.Invalid}. */
    @FunctionalInterface
    interface Handler {
        Call<?> handle(Session session, Args args);
    }

    /**
     * A command as {@code COMMAND INFO} and {@code COMMAND DOCS} describe it.
     *
     * @param arity    Redis's convention: the number of arguments with the name, or its negation for "at least"
     * @param firstKey where keys are: the first and last argument positions (negative: from the end) and the step
     *                 between them; 0, 0, 0 for a command without keys
     * @param group    Redis's group: string, generic, connection, server, or cluster for metcd's own
     */
    record Spec(String name, int arity, Access access, int firstKey, int lastKey, int step, String group,
            String since, String summary, Handler handler) {

        static Spec noKeys(String name, int arity, String group, String since, String summary, Handler handler) {
            return new Spec(name, arity, Access.NONE, 0, 0, 0, group, since, summary, handler);
        }

        List<Integer> keyPositions(int argCount) {
            List<Integer> positions = new ArrayList<>();
            for (int i = firstKey; firstKey > 0 && i < argCount; i += step) {
                if (isKey(i, argCount)) {
                    positions.add(i);
                }
            }
            return positions;
        }

        boolean isKey(int index, int argCount) {
            int last = lastKey < 0 ? argCount + lastKey : lastKey;
            return firstKey > 0 && index >= firstKey && index <= last && (index - firstKey) % step == 0;
        }
    }

    private final Map<String, Spec> table = new LinkedHashMap<>();

    Commands(Collection<Spec> specs) {
        for (Spec spec : specs) {
            table.put(spec.name(), spec);
        }
        table.put("command", Spec.noKeys("command", -1, "server", "2.8.13",
                "Describes the commands: all, COUNT, LIST, INFO name..., DOCS [name...]", this::command));
    }

    /** Whether argument {@code index} of a command of {@code argCount} arguments named {@code command} is a key. */
    boolean isKey(byte[] command, int index, int argCount) {
        Spec spec = table.get(new String(command, StandardCharsets.UTF_8).toLowerCase(Locale.ROOT));
        return spec != null && spec.isKey(index, argCount);
    }

    /** The command {@code args} spells, ready to start, or an immediate error reply if it cannot run. */
    Call<?> parse(Session session, List<byte[]> args) {
        String name = new String(args.get(0), StandardCharsets.UTF_8).toLowerCase(Locale.ROOT);
        Spec spec = table.get(name);
        if (spec == null) {
            return Call.now(Reply.error(unknownCommand(args))).as("unknown", Access.NONE, List.of());
        }
        session.commandArrived(name);
        int count = args.size();
        if (spec.arity() > 0 ? count != spec.arity() : count < -spec.arity()) {
            return failed(spec, wrongArguments(name));
        }
        Args parsed = new Args(args);
        try {
            List<Integer> positions = spec.keyPositions(count);
            List<String> keys = new ArrayList<>(positions.size());
            for (int i : positions) {
                int length = args.get(i).length;
                if (length == 0) {
                    throw new Args.Invalid("ERR empty key");
                } else if (length > MAX_KEY_BYTES) {
                    throw new Args.Invalid("ERR key too large");
                }
                keys.add(parsed.key(i));
            }
            return spec.handler().handle(session, parsed).as(name, spec.access(), keys);
        } catch (Args.Invalid e) {
            return failed(spec, e.getMessage());
        }
    }

    static String wrongArguments(String command) {
        return "ERR wrong number of arguments for '" + command + "' command";
    }

    static String unknownSubcommand(Args args) {
        return "ERR unknown subcommand '" + clip(args.text(1), 128) + "'. Try " + args.text(0).toUpperCase(Locale.ROOT)
                + " HELP.";
    }

    private static Call<?> failed(Spec spec, String error) {
        return Call.now(Reply.error(error)).as(spec.name(), Access.NONE, List.of());
    }

    /** Redis's text: the name and the first arguments, quoted, about 128 characters of them at most. */
    private static String unknownCommand(List<byte[]> args) {
        StringBuilder quoted = new StringBuilder();
        for (int i = 1; i < args.size() && quoted.length() < 128; i++) {
            String arg = new String(args.get(i), StandardCharsets.UTF_8);
            quoted.append('\'').append(clip(arg, 128 - quoted.length())).append("' ");
        }
        return "ERR unknown command '" + clip(new String(args.get(0), StandardCharsets.UTF_8), 128)
                + "', with args beginning with: " + quoted;
    }

    private static String clip(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max);
    }

    // ---------------------------------------------------------------------------------------------------- COMMAND

    private Call<?> command(Session session, Args args) {
        if (args.size() == 1) {
            return Call.now(new Reply.Array(table.values().stream().map(Commands::info).toList()));
        }
        String sub = args.lower(1);
        return Call.now(switch (sub) {
            case "count" -> args.size() == 2 ? new Reply.Int(table.size()) : Reply.error(wrongArguments("command|count"));
            case "list" -> args.size() == 2
                    ? new Reply.Array(table.keySet().stream().map(Reply::bulk).toList())
                    : Reply.error("ERR syntax error"); // FILTERBY is not supported
            case "info" -> {
                List<Reply> infos = new ArrayList<>();
                for (int i = 2; i < args.size(); i++) {
                    Spec spec = table.get(args.lower(i));
                    infos.add(spec == null ? Reply.NIL_ARRAY : info(spec));
                }
                yield new Reply.Array(infos);
            }
            case "docs" -> {
                List<Reply> docs = new ArrayList<>();
                Collection<Spec> asked = table.values();
                if (args.size() > 2) {
                    asked = new ArrayList<>();
                    for (int i = 2; i < args.size(); i++) {
                        Spec spec = table.get(args.lower(i));
                        if (spec != null) {
                            asked.add(spec);
                        }
                    }
                }
                for (Spec spec : asked) {
                    docs.add(Reply.bulk(spec.name()));
                    docs.add(new Reply.MapReply(List.of(Reply.bulk("summary"), Reply.bulk(spec.summary()),
                            Reply.bulk("since"), Reply.bulk(spec.since()), Reply.bulk("group"),
                            Reply.bulk(spec.group()))));
                }
                yield new Reply.MapReply(docs);
            }
            case "help" -> new Reply.Array(List.of(new Reply.Simple("COMMAND [COUNT|LIST|INFO name...|DOCS [name...]]")));
            default -> Reply.error(unknownSubcommand(args));
        });
    }

    /** {@code COMMAND INFO}'s description of a command, in Redis 7's form (no tips, key specs or subcommands). */
    private static Reply info(Spec spec) {
        List<Reply> flags = new ArrayList<>();
        List<Reply> categories = new ArrayList<>();
        switch (spec.access()) {
            case WRITE -> {
                flags.add(new Reply.Simple("write"));
                flags.add(new Reply.Simple("denyoom"));
                categories.add(new Reply.Simple("@write"));
            }
            case READ, READ_ALL -> {
                flags.add(new Reply.Simple("readonly"));
                categories.add(new Reply.Simple("@read"));
            }
            case NONE -> {
            }
        }
        categories.add(new Reply.Simple(switch (spec.group()) {
            case "string" -> "@string";
            case "generic" -> "@keyspace";
            case "connection" -> "@connection";
            default -> "@admin";
        }));
        return new Reply.Array(List.of(Reply.bulk(spec.name()), new Reply.Int(spec.arity()), new Reply.Array(flags),
                new Reply.Int(spec.firstKey()), new Reply.Int(spec.lastKey()), new Reply.Int(spec.step()),
                new Reply.Array(categories), Reply.EMPTY_ARRAY, Reply.EMPTY_ARRAY, Reply.EMPTY_ARRAY));
    }
}
