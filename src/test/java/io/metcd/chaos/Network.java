package io.metcd.chaos;

/**
 * The links between the nodes of a chaos run, as the {@link Nemesis} breaks them. A fault stays until {@link #heal()};
 * the nemesis injects one at a time. A network that cannot make a fault throws {@link UnsupportedOperationException};
 * each one lists those it makes in a {@code FAULTS} constant.
 */
interface Network {
    /** {@code node} and its peers lose every message between them, both ways; clients still reach it. */
    void partition(int node);

    /** {@code node} receives nothing from its peers, while what it sends them still arrives. */
    void oneWayPartition(int node);

    /** {@code node}'s link is down: peers and clients alike lose everything to and from it. */
    void linkDown(int node);

    /** Every link between two nodes loses a share of its messages. */
    void lossy();

    /** Ends every fault on every running node. */
    void heal();
}
