package io.metcd.raft;

import io.metcd.model.Member;
import io.microraft.RaftConfig;
import io.microraft.RaftEndpoint;
import io.microraft.RaftNode;
import io.microraft.impl.RaftNodeImpl;
import io.microraft.impl.state.LeaderState;
import io.microraft.model.impl.DefaultRaftModelFactory;
import io.microraft.model.message.AppendEntriesRequest;
import io.microraft.model.message.AppendEntriesSuccessResponse;
import io.microraft.model.message.RaftMessage;
import io.microraft.report.RaftNodeReport;
import io.microraft.statemachine.StateMachine;
import io.microraft.transport.Transport;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

import static org.awaitility.Awaitility.await;

/**
 * MicroRaft nodes in this JVM, each behind a {@link SnapshotBoundaryFix} and a {@link SnapshotTruncationFix} wired as
 * {@link RaftLoop} wires them, on a network the test steers: a message it asks for is held back until it releases it,
 * late, in whatever state the receiver has reached by then. Every append success response is checked as it is sent:
 * a follower must never claim a last log index beyond its own log (a leader takes that claim as its match index,
 * uncapped).
 * <p>
 * Followers hear from a leader they have heard of for a long time: only leadership transfers change the leader, so
 * each step of a test happens in the term it expects.
 */
final class SteeredRaftGroup implements AutoCloseable {
    /** Long enough that no follower gives up on a leader while a test steps through a term. */
    static final int PATIENT_FOLLOWERS = 30;
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    /** A message in flight from {@code from} to {@code to}. */
    record Envelope(int from, int to, RaftMessage message) {
    }

    private record Hold(Predicate<Envelope> which, CompletableFuture<Envelope> held) {
    }

    private final Map<Integer, RaftNodeImpl> nodes = new ConcurrentHashMap<>();
    private final Map<Integer, SnapshotBoundaryFix> fixes = new ConcurrentHashMap<>();
    private final List<Hold> holds = new CopyOnWriteArrayList<>();
    private final Map<Integer, FaultyModelFactory> faults = new ConcurrentHashMap<>();
    private final List<Envelope> sent = new CopyOnWriteArrayList<>();
    private final List<String> overclaims = new CopyOnWriteArrayList<>();
    private volatile Predicate<Envelope> dropped = envelope -> false;

    SteeredRaftGroup(int size) {
        this(size, PATIENT_FOLLOWERS);
    }

    /** @param heartbeatTimeoutSecs how long a follower waits for its leader's heartbeats (sent every second) */
    SteeredRaftGroup(int size, int heartbeatTimeoutSecs) {
        this(size, RaftConfig.newBuilder().setLeaderElectionTimeoutMillis(500).setLeaderHeartbeatPeriodSecs(1)
                .setLeaderHeartbeatTimeoutSecs(heartbeatTimeoutSecs).setCommitCountToTakeSnapshot(1_000_000).build(),
                false);
    }

    /** Nodes timed as {@link RaftLoop} times them ({@link RaftTiming}, {@link RaftClock}, {@link RaftClockExecutor}). */
    static SteeredRaftGroup withMetcdTiming(int size) {
        return new SteeredRaftGroup(size,
                RaftTiming.configure(RaftConfig.newBuilder()).setCommitCountToTakeSnapshot(1_000_000).build(), true);
    }

    private SteeredRaftGroup(int size, RaftConfig config, boolean metcdClock) {
        List<RaftEndpoint> members = new ArrayList<>();
        for (int id = 1; id <= size; id++) {
            members.add(new Member(id, "http://127.0.0.1:" + (20000 + id)));
        }
        for (RaftEndpoint endpoint : members) {
            Member member = (Member) endpoint;
            SnapshotBoundaryFix fix = new SnapshotBoundaryFix(new SteeredTransport(member.id()));
            SnapshotTruncationFix truncationFix = new SnapshotTruncationFix(report -> { });
            FaultyModelFactory fault = new FaultyModelFactory();
            RaftNode.RaftNodeBuilder builder = RaftNode.newBuilder().setGroupId(RaftLoop.GROUP_ID).setConfig(config)
                    .setLocalEndpoint(member).setInitialGroupMembers(members).setTransport(fix)
                    .setRaftNodeReportListener(truncationFix).setStateMachine(new Counter())
                    .setModelFactory(fault);
            if (metcdClock) {
                RaftClock clock = new RaftClock();
                builder.setClock(clock).setExecutor(new RaftClockExecutor(clock));
            }
            RaftNodeImpl node = (RaftNodeImpl) builder.build();
            fix.attach(node);
            truncationFix.attach(node);
            fault.node = node;
            faults.put(member.id(), fault);
            nodes.put(member.id(), node);
            fixes.put(member.id(), fix);
        }
    }

    SteeredRaftGroup start() {
        nodes.keySet().forEach(this::start);
        return this;
    }

    /** Starts node {@code id}, and {@link StalePreVoteFix} on it as {@link RaftLoop} does. */
    void start(int id) {
        nodes.get(id).start().join();
        new StalePreVoteFix(nodes.get(id)).start();
    }

    RaftNodeImpl node(int id) {
        return nodes.get(id);
    }

    /** Waits until every node follows one leader, and returns its id. */
    int awaitLeader() {
        return await().atMost(PATIENCE).until(() -> {
            RaftEndpoint leader = null;
            for (RaftNodeImpl node : nodes.values()) {
                RaftEndpoint known = node.getTerm().getLeaderEndpoint();
                if (known == null || (leader != null && !leader.equals(known))) {
                    return 0;
                }
                leader = known;
            }
            return ((Member) leader).id();
        }, id -> id > 0);
    }

    /** Replicates one operation through {@code leader} and waits until it is committed. */
    void replicate(int leader, Object operation) {
        nodes.get(leader).replicate(operation).orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join();
    }

    /** What {@code read} returns from node {@code id}'s internals, read on its Raft thread. */
    <T> T onRaftThread(int id, Function<RaftNodeImpl, T> read) {
        RaftNodeImpl node = nodes.get(id);
        CompletableFuture<T> result = new CompletableFuture<>();
        node.getExecutor().execute(() -> {
            try {
                result.complete(read.apply(node));
            } catch (RuntimeException | Error e) {
                result.completeExceptionally(e);
            }
        });
        return result.orTimeout(PATIENCE.toMillis(), TimeUnit.MILLISECONDS).join();
    }

    RaftNodeReport report(int id) {
        return nodes.get(id).getReport().join().getResult();
    }

    /** Holds back the first message from now on that matches {@code which}; the future completes when it is sent. */
    CompletableFuture<Envelope> hold(Predicate<Envelope> which) {
        Hold hold = new Hold(which, new CompletableFuture<>());
        holds.add(hold);
        return hold.held();
    }

    /**
     * Has node {@code id} fail once inside MicroRaft, as a fault of its own would: the next time it builds an append
     * request while a query (a heartbeat round) is registered.
     */
    void failBuildingARoundsRequest(int id) {
        faults.get(id).armed = true;
    }

    /** Drops every message from now on that matches {@code which}, until it is called again. */
    void drop(Predicate<Envelope> which) {
        dropped = which;
    }

    /** Delivers a message held back, now. */
    void release(Envelope envelope) {
        receive(envelope);
    }

    /** The messages sent so far (held ones included), in the order they were sent. */
    List<Envelope> sent() {
        return List.copyOf(sent);
    }

    /** Every append success response that claimed more than its sender's log held, described. */
    List<String> overclaims() {
        return List.copyOf(overclaims);
    }

    private void route(Envelope envelope) {
        sent.add(envelope);
        if (dropped.test(envelope)) {
            return;
        }
        for (Hold hold : holds) {
            if (hold.which().test(envelope) && holds.remove(hold)) {
                hold.held().complete(envelope);
                return;
            }
        }
        receive(envelope);
    }

    /**
     * As {@link PeerRequests}' receive: append requests go through the receiver's {@link SnapshotBoundaryFix}, the
     * answers to a leader's requests through a {@link StaleResponseFix}.
     */
    private void receive(Envelope envelope) {
        RaftNodeImpl to = nodes.get(envelope.to());
        if (envelope.message() instanceof AppendEntriesRequest request) {
            fixes.get(envelope.to()).handle(request);
        } else if (StaleResponseFix.answersALeader(envelope.message())) {
            new StaleResponseFix(to).handle(envelope.message());
        } else {
            to.handle(envelope.message());
        }
    }

    @Override
    public void close() {
        nodes.values().forEach(node -> node.terminate().join());
    }

    /** One node's transport; MicroRaft sends on that node's Raft thread, so its log can be read here. */
    private final class SteeredTransport implements Transport {
        private final int local;

        SteeredTransport(int local) {
            this.local = local;
        }

        @Override
        public void send(RaftEndpoint target, RaftMessage message) {
            if (message instanceof AppendEntriesSuccessResponse response) {
                long held = nodes.get(local).state().log().lastLogOrSnapshotIndex();
                if (response.getLastLogIndex() > held) {
                    overclaims.add("node " + local + " holds up to " + held + " but answered " + response);
                }
            }
            route(new Envelope(local, ((Member) target).id(), message));
        }

        @Override
        public boolean isReachable(RaftEndpoint endpoint) {
            return true;
        }
    }

    /** MicroRaft's model, but for one fault a test may ask for ({@link #failBuildingARoundsRequest}). */
    private static final class FaultyModelFactory extends DefaultRaftModelFactory {
        private volatile boolean armed;
        /** Set before the node starts. */
        private volatile RaftNodeImpl node;

        @Override
        public AppendEntriesRequest.AppendEntriesRequestBuilder createAppendEntriesRequestBuilder() {
            // MicroRaft builds requests on the Raft thread, so its state can be read here.
            LeaderState leading = node.state().leaderState();
            if (armed && leading != null && leading.queryState().queryCount() > 0) {
                armed = false;
                throw new IllegalStateException("a fault the test asked for, building a heartbeat round's request");
            }
            return super.createAppendEntriesRequestBuilder();
        }
    }

    /** A state machine that only counts what it applies. */
    private static final class Counter implements StateMachine {
        private long applied;

        @Override
        public Object runOperation(long commitIndex, Object operation) {
            return ++applied;
        }

        @Override
        public void takeSnapshot(long commitIndex, Consumer<Object> chunkConsumer) {
            chunkConsumer.accept(applied);
        }

        @Override
        public void installSnapshot(long commitIndex, List<Object> chunks) {
            applied = (Long) chunks.getFirst();
        }

        @Override
        public Object getNewTermOperation() {
            return null;
        }
    }
}
