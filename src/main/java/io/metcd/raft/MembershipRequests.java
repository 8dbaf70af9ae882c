package io.metcd.raft;

import io.metcd.kv.KVStore;
import io.metcd.model.Member;
import io.metcd.model.Unavailable;
import io.metcd.raft.MembershipException.Reason;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * A membership change as a client asks any node for it (HTTP's {@code POST} and {@code DELETE /-/members/{id}},
 * Redis's {@code JOIN} and {@code LEAVE}), carried through: the id and peer URL are checked here, the change is made
 * through the {@link ClusterAdmin} when this node leads, and asked of the leader's client API when it does not. Both
 * client APIs answer by the {@link Outcome}, each in its own terms, so a change gets the same answer whichever way it
 * came.
 * <p>
 * Contract: every call returns within a bounded time (a few request timeouts) with an outcome; it throws only when
 * interrupted, or when the leader answers outside the client API's contract (a defect of that node).
 */
public final class MembershipRequests {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** The leader's answer comes within the three request timeouts its commit may take, and one to spare. */
    private static final Duration FORWARD_TIMEOUT = KVStore.REQUEST_TIMEOUT.multipliedBy(4);
    private static final String MEMBERS_PATH = "/-/members/";

    /** What became of a change. */
    public sealed interface Outcome {
    }

    /** Member {@code id} was added or removed: the change is committed. */
    public record Done(int id) implements Outcome {
    }

    /**
     * The change was not made, for {@code reason}, which {@code message} says in one line. Refused, nothing changed;
     * not committed in time ({@link Reason#UNAVAILABLE}), it may still be.
     */
    public record NotDone(Reason reason, String message) implements Outcome {
    }

    private final ClusterAdmin cluster;

    public MembershipRequests(ClusterAdmin cluster) {
        this.cluster = cluster;
    }

    /** Adds member {@code id} (as the client wrote it) at {@code peerUrl}, as a learner; it then starts with --join. */
    public Outcome add(String id, String peerUrl) throws InterruptedException {
        Member member;
        try {
            member = Member.parse(memberId(id), peerUrl);
        } catch (IllegalArgumentException e) {
            return new NotDone(Reason.BAD_REQUEST, e.getMessage());
        }
        if (!cluster.isLeader()) {
            return forward("POST", member.id(), member.peerUrl());
        }
        return made(member.id(), () -> cluster.addMember(member));
    }

    /** Removes member {@code id} (as the client wrote it); a leader removing itself hands leadership over first. */
    public Outcome remove(String id) throws InterruptedException {
        int memberId;
        try {
            memberId = memberId(id);
        } catch (IllegalArgumentException e) {
            return new NotDone(Reason.BAD_REQUEST, e.getMessage());
        }
        // The leader steps down first, so that its removal costs no election timeout; the new leader removes it.
        if (cluster.isLeader() && memberId == cluster.localId()
                && made(memberId, cluster::handOverLeadership) instanceof NotDone notHandedOver) {
            return notHandedOver;
        }
        if (!cluster.isLeader()) {
            return forward("DELETE", memberId, "");
        }
        return made(memberId, () -> cluster.removeMember(memberId));
    }

    /** A member id: a positive decimal {@code int}. */
    private static int memberId(String text) {
        try {
            int id = Integer.parseInt(text);
            if (id > 0) {
                return id;
            }
        } catch (NumberFormatException e) {
            // falls through to the one message for every bad id
        }
        throw new IllegalArgumentException("member id must be a positive integer, not '" + text + "'");
    }

    private interface Change {
        void make() throws InterruptedException;
    }

    /** {@code change}, made on this node, as an outcome. */
    private static Outcome made(int id, Change change) throws InterruptedException {
        try {
            change.make();
            return new Done(id);
        } catch (MembershipException e) {
            return new NotDone(e.reason(), e.getMessage());
        } catch (Unavailable e) {
            return new NotDone(Reason.UNAVAILABLE, e.getMessage());
        }
    }

    /** Asks the leader's client API for the change, and reads its answer back into an outcome. */
    private Outcome forward(String method, int id, String body) throws InterruptedException {
        Optional<String> leader = cluster.leaderClientUrl(KVStore.REQUEST_TIMEOUT);
        if (leader.isEmpty()) {
            return new NotDone(Reason.UNAVAILABLE, "no leader whose client URL is known");
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(leader.get() + MEMBERS_PATH + id))
                .timeout(FORWARD_TIMEOUT).method(method, HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> answer;
        try {
            answer = HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            return new NotDone(Reason.UNAVAILABLE, "the leader at " + leader.get() + " did not answer: "
                    + e.getMessage());
        }
        String message = answer.body().strip();
        return switch (answer.statusCode()) {
            case 201, 204 -> new Done(id);
            case 400 -> new NotDone(Reason.BAD_REQUEST, message);
            case 404 -> new NotDone(Reason.NOT_FOUND, message);
            case 409 -> new NotDone(Reason.CONFLICT, message);
            case 503 -> new NotDone(Reason.UNAVAILABLE, message);
            default -> throw new IllegalStateException("the leader at " + leader.get() + " answered "
                    + answer.statusCode() + " to " + method + " " + MEMBERS_PATH + id + ": " + message);
        };
    }
}
