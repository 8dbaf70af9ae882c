package io.metcd.chaos;

import io.metcd.testkit.NetworkNamespaces;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * Nodes on hosts of their own ({@link NetworkNamespaces}), their links broken by the kernel: iptables drops packets
 * and a bridge port goes down. TCP sees what it would see between machines: retransmissions, stalled windows,
 * connections that time out or come back to life when the network heals.
 */
final class KernelNetwork implements Network {
    static final Set<Nemesis.Fault> FAULTS = Collections.unmodifiableSet(EnumSet.of(Nemesis.Fault.PARTITION,
            Nemesis.Fault.ONE_WAY_PARTITION, Nemesis.Fault.LINK_DOWN, Nemesis.Fault.LOSSY_NETWORK));
    /** A share of lost packets that TCP still gets through, slowly. */
    private static final double LOSS = 0.1;
    private final NetworkNamespaces hosts;
    private final int size;

    KernelNetwork(NetworkNamespaces hosts, int size) {
        this.hosts = hosts;
        this.size = size;
    }

    @Override
    public void partition(int node) {
        for (int peer = 1; peer <= size; peer++) {
            if (peer != node) {
                hosts.dropInbound(node, peer, 1);
                hosts.dropOutbound(node, peer);
            }
        }
    }

    /**
     * Drops the data the node's peers send it but not their TCP acknowledgements: were those dropped too, its own
     * sends would stall within a window, and it could no more send than receive.
     */
    @Override
    public void oneWayPartition(int node) {
        for (int peer = 1; peer <= size; peer++) {
            if (peer != node) {
                hosts.dropInboundData(node, peer);
            }
        }
    }

    @Override
    public void linkDown(int node) {
        hosts.unplug(node);
    }

    /** Every node drops a tenth of the packets from each peer, at random: TCP retransmits them, late. */
    @Override
    public void lossy() {
        for (int node = 1; node <= size; node++) {
            for (int peer = 1; peer <= size; peer++) {
                if (peer != node) {
                    hosts.dropInbound(node, peer, LOSS);
                }
            }
        }
    }

    @Override
    public void heal() {
        hosts.heal();
    }
}
