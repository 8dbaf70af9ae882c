/**
 * A metcd node: {@link io.metcd.Main} turns flags into a {@link io.metcd.Node}, which wires the parts together as
 * etcd's raftexample ({@code main.go}) does. It creates the three channels and hands each part the end it uses:
 * <ul>
 * <li>{@code proposeC}: the store ({@link io.metcd.kv.KVStore}) sends its clients' writes; the Raft loop's
 * {@link io.metcd.raft.ProposeLoop} receives them, groups them into one log entry per pass, and replicates it as
 * the leader or forwards it to the leader;</li>
 * <li>{@code confChangeC}: the cluster API and the leader's learner promotion send membership changes;
 * {@link io.metcd.raft.MembershipChanges} receives them and has MicroRaft make them, one at a time;</li>
 * <li>{@code commitC}: {@link io.metcd.raft.KvStateMachine} sends the committed entries; the store's applier
 * receives them.</li>
 * </ul>
 * <p>
 * <b>The pipeline</b>, stage by stage in the order of raftexample's {@code serveChannels}, and who runs each. etcd's
 * raft hands its loop a Ready that it works through and then Advances; MicroRaft runs the same stages itself, on its
 * Raft thread, and calls into metcd's parts:
 * <ol>
 * <li><b>Save to the WAL</b>: MicroRaft appends new entries (and term, vote, snapshot chunks) to
 * {@link io.metcd.wal.ChronicleRaftStore} and msyncs it once per batch, before the leader counts its own entry or
 * a follower acknowledges it.</li>
 * <li><b>Send</b>: MicroRaft hands its messages to {@link io.metcd.raft.SnapshotBoundaryFix}, then
 * {@link io.metcd.transport.PeerTransport}; each peer's {@link io.metcd.transport.OutboundPeer} thread writes them
 * out.</li>
 * <li><b>Publish committed entries</b>: MicroRaft calls {@link io.metcd.raft.KvStateMachine} with each committed
 * entry, which puts it on {@code commitC}: a full channel holds the Raft thread back, as a slow application holds
 * etcd's loop back.</li>
 * <li><b>Apply</b>: the store's applier thread ({@link io.metcd.kv.AbstractKVStore}) applies what {@code commitC}
 * holds to the engine, publishes the applied index, and answers the clients whose writes it applied
 * ({@link io.metcd.kv.Writes}, the one owner of a write from proposal to answer).</li>
 * <li><b>Snapshot</b>: every {@code --snapshot-count} client writes, {@link io.metcd.raft.KvStateMachine} asks
 * MicroRaft for one; on the Raft thread it only puts a marker on {@code commitC} and hands MicroRaft references to
 * chunks not written yet. The applier, reaching the marker, opens a view of its state at that index (in constant
 * time) and goes on applying; {@link io.metcd.wal.SnapshotFiles} writes the view into a file on a thread of its own.
 * Once that file is durable, the WAL deletes the entries it covers ({@link io.metcd.wal.Compaction}).</li>
 * <li><b>Advance</b>: MicroRaft, by itself: the Raft thread goes on to its next task once a call returns.</li>
 * </ol>
 * Reads wait for a read index ({@link io.metcd.raft.ReadIndex}) and the applier reaching it; a follower asks the
 * leader for writes and read indexes over the peer connections ({@link io.metcd.raft.PeerRequests}). The HTTP API
 * ({@link io.metcd.http.HttpApi}) only turns requests into calls on the store and the cluster, and outcomes into
 * status codes.
 * <p>
 * <b>Layers</b>, lowest first; a package uses only those before it ({@code PackageCyclesTest} keeps them free of
 * cycles): {@code model} (what the layers share), {@code codec}, {@code metrics}, {@code wal}, {@code transport},
 * {@code kv}, {@code watch}, {@code raft}, {@code http}, and this package.
 */
package io.metcd;
