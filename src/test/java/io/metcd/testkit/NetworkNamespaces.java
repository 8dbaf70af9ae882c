package io.metcd.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hosts on one Ethernet segment, as separate machines would be, made of Linux network namespaces: host N is a
 * namespace with one private address, 10.213.S.N/24, on a veth whose other end is a port of a bridge in a hub
 * namespace. The test's JVM, in the machine's own namespace, is the client machine 10.213.S.100 on one more veth to
 * that bridge. Faults are the kernel's: iptables rules in a host's namespace, or its bridge port taken down.
 * <p>
 * Only addresses of this segment are used, and only this run's namespaces and links are touched. Everything is named
 * after the JVM's pid ({@code metcdnet-PID-...}, {@code mnPIDc}), so that a run can remove what an earlier run left
 * behind when it was killed before it could clean up (its pid no longer runs a JVM), and never what a live one uses.
 * {@link #close()}, or a shutdown hook if the JVM stops first, removes the namespaces, links and rules, and stops
 * whatever still runs in them.
 */
public final class NetworkNamespaces implements AutoCloseable {
    private static final String PREFIX = "metcdnet-";
    private static final Pattern OWN_NAMESPACE = Pattern.compile(Pattern.quote(PREFIX) + "(\\d+)-\\w+");
    private static final Pattern CLIENT_LINK = Pattern.compile("^\\d+: (mn(\\d+)c)[@:]", Pattern.MULTILINE);
    private static final int CLIENT_HOST = 100;
    /** The largest TCP packet without data: IP and TCP headers with options, as on a SYN. */
    private static final int BARE_TCP_BYTES = 60;

    private final long owner = ProcessHandle.current().pid();
    private final int hosts;
    private final String subnet;
    private final Thread cleanupAtExit = new Thread(this::remove, "network-namespaces-cleanup");
    private boolean closed;

    private NetworkNamespaces(int hosts, String subnet) {
        this.hosts = hosts;
        this.subnet = subnet;
    }

    /** Why this machine cannot host them (not root, no ip or iptables), or empty if it can. */
    public static Optional<String> unavailable() {
        if (!"0".equals(Commands.output("id", "-u").strip())) {
            return Optional.of("network namespaces need root, and this test runs as " + System.getProperty("user.name"));
        }
        for (String tool : List.of("ip", "iptables")) {
            if (Commands.run(List.of("sh", "-c", "command -v " + tool)) != null) {
                return Optional.of("'" + tool + "' is not installed (apt-get install iproute2 iptables)");
            }
        }
        String probe = PREFIX + ProcessHandle.current().pid() + "-probe";
        String failure = Commands.run("ip", "netns", "add", probe);
        if (failure == null) {
            failure = Commands.run("ip", "netns", "exec", probe, "iptables", "-L", "INPUT");
            Commands.run("ip", "netns", "del", probe);
        }
        return Optional.ofNullable(failure).map(f -> "cannot make a network namespace with a firewall here: " + f);
    }

    /** Creates {@code hosts} hosts (1..hosts) and the client machine, after removing what dead runs left behind. */
    public static NetworkNamespaces create(int hosts) {
        removeLeftovers();
        NetworkNamespaces net = new NetworkNamespaces(hosts, freeSubnet());
        Runtime.getRuntime().addShutdownHook(net.cleanupAtExit);
        try {
            net.build();
        } catch (RuntimeException e) {
            net.close();
            throw e;
        }
        return net;
    }

    private void build() {
        String hub = namespace("hub");
        Commands.require("ip", "netns", "add", hub);
        Commands.require("ip", "-n", hub, "link", "add", "br0", "type", "bridge");
        Commands.require("ip", "-n", hub, "link", "set", "br0", "up");
        for (int host = 1; host <= hosts; host++) {
            String ns = namespace(String.valueOf(host));
            Commands.require("ip", "netns", "add", ns);
            Commands.require("ip", "-n", hub, "link", "add", port(host), "type", "veth", "peer", "name", "eth0",
                    "netns", ns);
            Commands.require("ip", "-n", hub, "link", "set", port(host), "master", "br0", "up");
            Commands.require("ip", "-n", ns, "addr", "add", address(host) + "/24", "dev", "eth0");
            Commands.require("ip", "-n", ns, "link", "set", "eth0", "up");
            Commands.require("ip", "-n", ns, "link", "set", "lo", "up");
        }
        Commands.require("ip", "link", "add", clientLink(), "type", "veth", "peer", "name", "client", "netns", hub);
        Commands.require("ip", "-n", hub, "link", "set", "client", "master", "br0", "up");
        Commands.require("ip", "addr", "add", clientAddress() + "/24", "dev", clientLink());
        Commands.require("ip", "link", "set", clientLink(), "up");
    }

    /** Host {@code host}'s address, where its processes listen and from which they connect. */
    public String address(int host) {
        return subnet + host;
    }

    /** The address of the client machine: this JVM's, on the hosts' segment. */
    public String clientAddress() {
        return subnet + CLIENT_HOST;
    }

    /** The command prefix that runs a program on host {@code host}. */
    public List<String> launcher(int host) {
        return List.of("ip", "netns", "exec", namespace(String.valueOf(host)));
    }

    /** Host {@code host} drops what {@code from} sends it, every packet or a random share of them. */
    public void dropInbound(int host, int from, double probability) {
        List<String> rule = new ArrayList<>(List.of("-A", "INPUT", "-s", address(from)));
        if (probability < 1) {
            rule.addAll(List.of("-m", "statistic", "--mode", "random", "--probability", String.valueOf(probability)));
        }
        rule.addAll(List.of("-j", "DROP"));
        iptables(host, rule);
    }

    /**
     * Host {@code host} drops every packet from {@code from} that carries data, and lets through TCP's bare
     * acknowledgements and handshakes (60 bytes at most): over connections that each carry messages one way, as the
     * nodes' do, {@code from}'s messages are lost while what {@code host} sends it still arrives.
     */
    public void dropInboundData(int host, int from) {
        iptables(host, List.of("-A", "INPUT", "-s", address(from), "-p", "tcp", "-m", "length", "--length",
                (BARE_TCP_BYTES + 1) + ":65535", "-j", "DROP"));
    }

    /** Host {@code host} drops every packet it would send to {@code to}. */
    public void dropOutbound(int host, int to) {
        iptables(host, List.of("-A", "OUTPUT", "-d", address(to), "-j", "DROP"));
    }

    /** Takes host {@code host}'s bridge port down: its cable pulled out, for peers and clients alike. */
    public void unplug(int host) {
        Commands.require("ip", "-n", namespace("hub"), "link", "set", port(host), "down");
    }

    /** Removes every rule and plugs every host back in. */
    public void heal() {
        for (int host = 1; host <= hosts; host++) {
            iptables(host, List.of("-F", "INPUT"));
            iptables(host, List.of("-F", "OUTPUT"));
            Commands.require("ip", "-n", namespace("hub"), "link", "set", port(host), "up");
        }
    }

    private void iptables(int host, List<String> arguments) {
        List<String> command = new ArrayList<>(launcher(host));
        command.add("iptables");
        command.addAll(arguments);
        Commands.require(command.toArray(String[]::new));
    }

    /** Stops what still runs on the hosts and removes the namespaces, their links and rules; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        remove();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupAtExit);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook is what is running this
        }
    }

    private void remove() {
        for (int host = 1; host <= hosts; host++) {
            removeNamespace(namespace(String.valueOf(host)));
        }
        removeNamespace(namespace("hub"));
        Commands.run("ip", "link", "del", clientLink());
    }

    private String namespace(String name) {
        return PREFIX + owner + "-" + name;
    }

    String clientLink() {
        return "mn" + owner + "c";
    }

    private static String port(int host) {
        return "h" + host;
    }

    /** Kills what runs in namespace {@code ns} (the nodes of a run that could not stop them), then deletes it. */
    private static void removeNamespace(String ns) {
        String pids;
        try {
            pids = Commands.output("ip", "netns", "pids", ns);
        } catch (IllegalStateException e) {
            return; // never made: a network that failed half-way
        }
        for (String pid : pids.split("\\s+")) {
            if (!pid.isBlank()) {
                Commands.run("kill", "-KILL", pid);
            }
        }
        Commands.run("ip", "netns", "del", ns);
    }

    /** The namespaces and client links of runs whose JVM is gone. */
    private static void removeLeftovers() {
        for (String ns : namespaces()) {
            Matcher owner = OWN_NAMESPACE.matcher(ns);
            if (owner.matches() && !isRunningJvm(Long.parseLong(owner.group(1)))) {
                removeNamespace(ns);
            }
        }
        Matcher link = CLIENT_LINK.matcher(Commands.output("ip", "-o", "link", "show"));
        while (link.find()) {
            if (!isRunningJvm(Long.parseLong(link.group(2)))) {
                Commands.run("ip", "link", "del", link.group(1));
            }
        }
    }

    private static boolean isRunningJvm(long pid) {
        return ProcessHandle.of(pid).flatMap(p -> p.info().command()).map(c -> c.endsWith("java")).orElse(false);
    }

    /** A 10.213.S.0/24 that no interface or route of this machine uses, picked from the pid to spread runs out. */
    private static String freeSubnet() {
        String routes = Commands.output("ip", "-4", "route", "show", "table", "all")
                + Commands.output("ip", "-4", "addr", "show");
        long pid = ProcessHandle.current().pid();
        for (int i = 0; i < 256; i++) {
            String subnet = "10.213." + ((pid + i) % 256) + ".";
            if (!routes.contains(subnet)) {
                return subnet;
            }
        }
        throw new IllegalStateException("every 10.213.x.0/24 is in use on this machine");
    }

    /** The names of every namespace of these runs on this machine, live or left behind; for tests of the clean-up. */
    static List<String> namespaces() {
        List<String> names = new ArrayList<>();
        Matcher ns = OWN_NAMESPACE.matcher(Commands.output("ip", "netns", "list"));
        while (ns.find()) {
            names.add(ns.group());
        }
        return names;
    }
}
