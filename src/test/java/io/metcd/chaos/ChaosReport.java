package io.metcd.chaos;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** What a {@link ChaosRun} did and found; {@link #problems()} is empty when every check passed. */
record ChaosReport(ChaosRun.Settings settings, List<Op> history, List<Nemesis.Event> events,
        LinearizabilityChecker.Result verdict, List<Op> lostWrites, Map<Integer, String> digests,
        List<Integer> crashed, Watches watches) {

    /** What the watch kept open on every node saw ({@link WatchRecorder}), and what it found wrong. */
    record Watches(String summary, List<String> problems) {
    }

    /** Below this many acknowledged operations a run proves too little to pass, however clean it looks. */
    static final int MIN_ACKNOWLEDGED = 100;

    List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (!verdict.linearizable()) {
            problems.add("the history is not linearizable (see the checker's report)");
        }
        if (!lostWrites.isEmpty()) {
            problems.add(lostWrites.size() + " acknowledged writes lost");
        }
        if (digests.size() < 3 || digests.values().stream().distinct().count() != 1) {
            problems.add("the replicas did not converge: " + digests);
        }
        if (!crashed.isEmpty()) {
            problems.add("nodes not running at the end without the nemesis having stopped them: " + crashed);
        }
        long acknowledged = history.stream().filter(op -> op.outcome() == Op.Outcome.OK).count();
        if (acknowledged < MIN_ACKNOWLEDGED) {
            problems.add("only " + acknowledged + " operations succeeded");
        }
        byClients().forEach((clients, ops) -> {
            if (ops.stream().noneMatch(op -> op.outcome() == Op.Outcome.OK)) {
                problems.add("the " + clients + " clients had no operation acknowledged");
            }
        });
        if (events.isEmpty()) {
            problems.add("the nemesis injected no fault");
        }
        events.stream().filter(Nemesis.Event::failed).forEach(e -> problems.add("after " + e));
        watches.problems().forEach(p -> problems.add("watch: " + p));
        return problems;
    }

    /** The operations of each kind of client the run had (HTTP, Redis protocol, compare-and-swap), by its name. */
    private Map<String, List<Op>> byClients() {
        int http = settings.clients();
        int resp = http + settings.respClients();
        Map<String, List<Op>> groups = new LinkedHashMap<>();
        addClients(groups, "HTTP", 1, http);
        addClients(groups, "Redis-protocol", http + 1, resp);
        addClients(groups, "compare-and-swap", resp + 1, resp + settings.casClients());
        return groups;
    }

    /** The operations of clients {@code first} to {@code last}, if there are any such clients. */
    private void addClients(Map<String, List<Op>> groups, String name, int first, int last) {
        if (last >= first) {
            groups.put(name, history.stream().filter(op -> op.client() >= first && op.client() <= last).toList());
        }
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        out.append("chaos run: engine ").append(settings.engine()).append(", network ").append(settings.network())
                .append(", ").append(seconds(settings.duration()))
                .append(", ").append(settings.clients()).append(" HTTP and ").append(settings.respClients())
                .append(" Redis-protocol clients on ").append(settings.keys()).append(" keys, ")
                .append(settings.casClients()).append(" compare-and-swap clients, faults ").append(settings.faults())
                .append(", seed ").append(settings.seed())
                .append('\n');
        for (Op.Kind kind : Op.Kind.values()) {
            Map<Op.Outcome, Long> counts = new EnumMap<>(Op.Outcome.class);
            history.stream().filter(op -> op.kind() == kind)
                    .forEach(op -> counts.merge(op.outcome(), 1L, Long::sum));
            String kinds = kind == Op.Kind.CAS ? "cas" : kind.name().toLowerCase() + "s";
            out.append("  %-6s ok %d, failed %d, unknown %d%n".formatted(kinds,
                    counts.getOrDefault(Op.Outcome.OK, 0L), counts.getOrDefault(Op.Outcome.FAILED, 0L),
                    counts.getOrDefault(Op.Outcome.UNKNOWN, 0L)));
        }
        out.append("  by clients:");
        byClients().forEach((clients, ops) -> out.append(" ").append(clients).append(" ok ")
                .append(ops.stream().filter(op -> op.outcome() == Op.Outcome.OK).count()).append(" of ")
                .append(ops.size()).append(';'));
        out.append('\n');
        out.append("  faults injected: ").append(events.stream()
                .collect(Collectors.groupingBy(Nemesis.Event::fault, () -> new EnumMap<>(Nemesis.Fault.class),
                        Collectors.counting()))).append('\n');
        events.forEach(e -> out.append("    ").append(e).append('\n'));
        out.append("  linearizability: ").append(verdict).append('\n');
        out.append("  lost acknowledged writes: ").append(lostWrites.size()).append('\n');
        lostWrites.forEach(op -> out.append("    ").append(op).append('\n'));
        out.append("  replica digests after healing: ").append(digests).append('\n');
        out.append("  crashed nodes: ").append(crashed).append('\n');
        out.append("  watches:").append(watches.summary()).append('\n');
        List<String> problems = problems();
        out.append("  result: ").append(problems.isEmpty() ? "PASS" : "FAIL " + problems);
        return out.toString();
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + " s";
    }
}
