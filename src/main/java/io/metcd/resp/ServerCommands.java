package io.metcd.resp;

import io.metcd.model.Decimal;
import io.metcd.resp.Commands.Spec;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * The commands on the connection (what clients send when they connect), on the node (INFO) and on the cluster (JOIN,
 * LEAVE, SNAPSHOT: leto's names for the HTTP cluster API).
 */
final class ServerCommands {
    /**
     * The Redis version whose commands and replies these follow, as HELLO and INFO announce it: clients choose what
     * they send by it (7 has HELLO, RESP3, SET's GET option, CLIENT SETINFO).
     */
    static final String REDIS_VERSION = "7.0.0";

    private final Keyspace store;
    private final ClusterAdmin cluster;
    private final IntSupplier connectedClients;
    private final IntSupplier port;
    private final long startedNanos = System.nanoTime();

    ServerCommands(Keyspace store, ClusterAdmin cluster, IntSupplier connectedClients, IntSupplier port) {
        this.store = store;
        this.cluster = cluster;
        this.connectedClients = connectedClients;
        this.port = port;
    }

    List<Spec> specs() {
        return List.of(
                connection("ping", -1, "1.0.0", "PONG, or the message given", this::ping),
                connection("echo", 2, "1.0.0", "The message given", (s, a) -> Call.now(new Reply.Bulk(a.bytes(1)))),
                connection("quit", -1, "1.0.0", "Closes the connection once earlier commands are answered", (s, a) -> {
                    s.closeAfterReply = true;
                    return Call.now(Reply.OK);
                }),
                connection("hello", -1, "6.0.0", "Picks the protocol: HELLO [2|3] [AUTH user pass] [SETNAME name]",
                        this::hello),
                connection("select", 2, "1.0.0", "Database 0, the only one", this::select),
                connection("client", -2, "2.4.0", "The connection: SETNAME, GETNAME, ID, INFO, SETINFO", this::client),
                connection("readonly", 1, "3.0.0", "Reads at the stale level: this node's state, at once", (s, a) -> {
                    s.readLevel = Keyspace.ReadLevel.STALE;
                    return Call.now(Reply.OK);
                }),
                connection("readwrite", 1, "3.0.0", "Reads at the default level again", (s, a) -> {
                    s.readLevel = Keyspace.ReadLevel.DEFAULT;
                    return Call.now(Reply.OK);
                }),
                Spec.noKeys("config", -2, "server", "2.0.0", "CONFIG GET answers nothing: metcd has no Redis settings",
                        this::config),
                Spec.noKeys("info", -1, "server", "1.0.0", "Sections server, clients, replication, keyspace",
                        this::info),
                Spec.noKeys("join", 3, "cluster", "0.1.0", "Adds a member: JOIN id peerURL", (s, a) -> {
                    int id = memberId(a);
                    return Call.store(() -> cluster.addMember(id, a.text(2)), done -> Reply.OK);
                }),
                Spec.noKeys("leave", 2, "cluster", "0.1.0", "Removes a member: LEAVE id", (s, a) -> {
                    int id = memberId(a);
                    return Call.store(() -> cluster.removeMember(id), done -> Reply.OK);
                }),
                Spec.noKeys("snapshot", 1, "cluster", "0.1.0", "Takes a snapshot; answers its log index", (s, a) ->
                        Call.store(cluster::snapshot, Reply.Int::new)));
    }

    private static Spec connection(String name, int arity, String since, String summary, Commands.Handler handler) {
        return Spec.noKeys(name, arity, "connection", since, summary, handler);
    }

    private Call<?> ping(Session session, Args args) {
        if (args.size() > 2) {
            throw new Args.Invalid(Commands.wrongArguments("ping"));
        }
        return Call.now(args.size() == 1 ? Reply.PONG : new Reply.Bulk(args.bytes(1)));
    }

    /** Switches the protocol (the reply is already in the new one) and answers the server's description. */
    private Call<?> hello(Session session, Args args) {
        int protocol = session.protocol;
        if (args.size() > 1) {
            Long asked = Decimal.parse(args.bytes(1));
            if (asked == null) {
                throw new Args.Invalid("ERR Protocol version is not an integer or out of range");
            } else if (asked != Reply.RESP2 && asked != Reply.RESP3) {
                throw new Args.Invalid("NOPROTO unsupported protocol version");
            }
            protocol = asked.intValue();
        }
        String name = null;
        for (int i = 2; i < args.size(); i++) {
            if (args.is(i, "AUTH") && i + 2 < args.size()) {
                // metcd has no users: like a Redis whose default user has no password, it takes that user alone
                if (!args.text(i + 1).equals("default")) {
                    throw new Args.Invalid("WRONGPASS invalid username-password pair or user is disabled.");
                }
                i += 2;
            } else if (args.is(i, "SETNAME") && i + 1 < args.size()) {
                name = clientName(args.text(++i));
            } else {
                throw new Args.Invalid("ERR Syntax error in HELLO option '" + args.text(i) + "'");
            }
        }
        session.protocol = protocol;
        if (name != null) {
            session.name = name;
        }
        return Call.now(new Reply.MapReply(List.of(
                Reply.bulk("server"), Reply.bulk("redis"),
                Reply.bulk("version"), Reply.bulk(REDIS_VERSION),
                Reply.bulk("proto"), new Reply.Int(protocol),
                Reply.bulk("id"), new Reply.Int(session.id),
                Reply.bulk("mode"), Reply.bulk("standalone"),
                Reply.bulk("role"), Reply.bulk("master"), // any node takes writes: to a client, each is a master
                Reply.bulk("modules"), Reply.EMPTY_ARRAY)));
    }

    private Call<?> select(Session session, Args args) {
        if (args.integer(1) != 0) {
            throw new Args.Invalid("ERR DB index is out of range");
        }
        return Call.now(Reply.OK);
    }

    private Call<?> client(Session session, Args args) {
        String sub = args.lower(1);
        int arity = switch (sub) {
            case "setname" -> 3;
            case "getname", "id", "info", "help" -> 2;
            case "setinfo" -> 4;
            default -> throw new Args.Invalid(Commands.unknownSubcommand(args));
        };
        if (args.size() != arity) {
            throw new Args.Invalid(Commands.wrongArguments("client|" + sub));
        }
        return Call.now(switch (sub) {
            case "setname" -> {
                session.name = clientName(args.text(2));
                yield Reply.OK;
            }
            case "getname" -> session.name.isEmpty() ? Reply.NIL : Reply.bulk(session.name);
            case "id" -> new Reply.Int(session.id);
            case "info" -> Reply.bulk(session.info());
            case "setinfo" -> {
                String value = clientName(args.text(3));
                if (args.is(2, "LIB-NAME")) {
                    session.libraryName = value;
                } else if (args.is(2, "LIB-VER")) {
                    session.libraryVersion = value;
                } else {
                    throw new Args.Invalid("ERR Unrecognized option '" + args.text(2) + "'");
                }
                yield Reply.OK;
            }
            default -> new Reply.Array(List.of(Reply.bulk("CLIENT SETNAME name | GETNAME | ID | INFO"
                    + " | SETINFO LIB-NAME|LIB-VER value")));
        });
    }

    /** A client name, as Redis takes one: printable ASCII without spaces, "" for none. */
    private static String clientName(String name) {
        for (char c : name.toCharArray()) {
            if (c <= ' ' || c > '~') {
                throw new Args.Invalid("ERR Client names cannot contain spaces, newlines or special characters.");
            }
        }
        return name;
    }

    private Call<?> config(Session session, Args args) {
        if (!args.is(1, "GET")) {
            throw new Args.Invalid(Commands.unknownSubcommand(args));
        } else if (args.size() < 3) {
            throw new Args.Invalid(Commands.wrongArguments("config|get"));
        }
        return Call.now(new Reply.MapReply(List.of()));
    }

    /**
     * The member id argument, a positive integer as Redis reads integers: no '+', no leading zero. Stricter than the
     * HTTP API's path (which reads "04" as 4), as JOIN and LEAVE have always been; the cluster checks the change.
     */
    private static int memberId(Args args) {
        Long id = Decimal.parse(args.bytes(1));
        if (id == null || id <= 0 || id > Integer.MAX_VALUE) {
            throw new Args.Invalid("ERR member id must be a positive integer, not '" + args.text(1) + "'");
        }
        return id.intValue();
    }

    // ------------------------------------------------------------------------------------------------------- INFO

    private static final List<String> SECTIONS = List.of("server", "clients", "replication", "keyspace");

    /** INFO [section...]: none, "default", "all" or "everything" for every section; unknown ones are left out. */
    private Call<?> info(Session session, Args args) {
        Set<String> asked = new LinkedHashSet<>();
        for (int i = 1; i < args.size(); i++) {
            String section = args.lower(i);
            if (section.equals("default") || section.equals("all") || section.equals("everything")) {
                asked.addAll(SECTIONS);
            } else if (SECTIONS.contains(section)) {
                asked.add(section);
            }
        }
        if (args.size() == 1) {
            asked.addAll(SECTIONS);
        }
        List<String> sections = SECTIONS.stream().filter(asked::contains).toList();
        return new Call<>("", Call.Access.NONE, List.of(), () -> {
            CompletableFuture<Outcome<Keyspace.KeyCount>> count = sections.contains("keyspace")
                    ? store.count(Keyspace.ReadLevel.STALE)
                    : CompletableFuture.completedFuture(null);
            return cluster.status().thenCombine(count, (status, keys) -> text(sections, status, keys));
        }, Reply::bulk);
    }

    private String text(List<String> sections, ClusterAdmin.Status status, Outcome<Keyspace.KeyCount> count) {
        List<String> lines = new ArrayList<>();
        for (String section : sections) {
            if (!lines.isEmpty()) {
                lines.add("");
            }
            lines.add("# " + Character.toUpperCase(section.charAt(0)) + section.substring(1));
            switch (section) {
                case "server" -> {
                    lines.add("redis_version:" + REDIS_VERSION);
                    lines.add("redis_mode:standalone");
                    lines.add("metcd_node_id:" + status.nodeId());
                    lines.add("metcd_engine:" + status.engine());
                    lines.add("process_id:" + ProcessHandle.current().pid());
                    lines.add("tcp_port:" + port.getAsInt());
                    lines.add("uptime_in_seconds:" + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startedNanos));
                }
                case "clients" -> lines.add("connected_clients:" + connectedClients.getAsInt());
                case "replication" -> {
                    lines.add("role:" + status.role());
                    lines.add("raft_term:" + status.term());
                    lines.add("leader_id:" + (status.leaderId() == 0 ? "none" : status.leaderId()));
                    lines.add("applied_index:" + status.appliedIndex());
                    lines.add("members:" + status.members().size());
                    for (ClusterAdmin.Member m : status.members()) {
                        lines.add("member_" + m.id() + ":role=" + m.role() + ",peer_url=" + m.peerUrl()
                                + ",client_url=" + (m.clientUrl() == null ? "unknown" : m.clientUrl()));
                    }
                }
                case "keyspace" -> {
                    if (count instanceof Outcome.Done<Keyspace.KeyCount> done && done.value().keys() > 0) {
                        lines.add("db0:keys=" + done.value().keys() + ",expires=" + done.value().expiring()
                                + ",avg_ttl=0");
                    }
                }
                default -> throw new IllegalStateException(section);
            }
        }
        return String.join("\r\n", lines) + "\r\n";
    }
}
