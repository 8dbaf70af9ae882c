package io.metcd;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.spi.ToolProvider;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * metcd's packages form layers: none depends on a package that depends back on it, directly or through others. The
 * dependencies are read from the compiled classes by the JDK's jdeps, so that every reference counts, not only
 * imports.
 */
class PackageCyclesTest {
    private static final Pattern EDGE = Pattern.compile("^\\s+(io\\.metcd[\\w.]*)\\s+->\\s+(io\\.metcd[\\w.]*)\\s");

    @Test
    void noPackageDependsOnAPackageThatDependsBackOnIt() throws Exception {
        Map<String, Set<String>> dependencies = dependencies();
        assertThat(dependencies).as("what jdeps read").containsKeys("io.metcd", "io.metcd.raft", "io.metcd.kv");
        assertThat(cycles(dependencies)).as("packages in a cycle, given " + dependencies).isEmpty();
    }

    /** Which metcd packages each metcd package uses, from jdeps' package-level report on the main classes. */
    private static Map<String, Set<String>> dependencies() throws URISyntaxException {
        Path classes = Path.of(Node.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ToolProvider jdeps = ToolProvider.findFirst("jdeps")
                .orElseThrow(() -> new AssertionError("this JDK has no jdeps"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = jdeps.run(new PrintWriter(out), new PrintWriter(err), "-verbose:package", "-filter:none",
                "-e", "io\\.metcd\\..*", classes.toString());
        assertThat(status).as("jdeps: " + err).isZero();
        Map<String, Set<String>> dependencies = new TreeMap<>();
        for (String line : out.toString().split("\n")) {
            Matcher m = EDGE.matcher(line);
            if (m.find()) {
                Set<String> used = dependencies.computeIfAbsent(m.group(1), p -> new TreeSet<>());
                if (!m.group(2).equals(m.group(1))) {
                    used.add(m.group(2));
                }
            }
        }
        return dependencies;
    }

    /** The strongly connected components of more than one package (Tarjan's algorithm). */
    private static List<Set<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> order = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        List<Set<String>> cycles = new ArrayList<>();
        for (String p : graph.keySet()) {
            if (!order.containsKey(p)) {
                visit(p, graph, order, low, stack, cycles);
            }
        }
        return cycles;
    }

    private static void visit(String p, Map<String, Set<String>> graph, Map<String, Integer> order,
            Map<String, Integer> low, Deque<String> stack, List<Set<String>> cycles) {
        order.put(p, order.size());
        low.put(p, order.get(p));
        stack.push(p);
        for (String q : graph.getOrDefault(p, Set.of())) {
            if (!order.containsKey(q)) {
                visit(q, graph, order, low, stack, cycles);
                low.put(p, Math.min(low.get(p), low.get(q)));
            } else if (stack.contains(q)) {
                low.put(p, Math.min(low.get(p), order.get(q)));
            }
        }
        if (low.get(p).equals(order.get(p))) {
            Set<String> component = new TreeSet<>();
            String q;
            do {
                q = stack.pop();
                component.add(q);
            } while (!q.equals(p));
            if (component.size() > 1) {
                cycles.add(component);
            }
        }
    }
}
