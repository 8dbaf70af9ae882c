package io.metcd.model;

import io.microraft.RaftEndpoint;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Objects;

/**
 * A cluster member as MicroRaft sees it: identified by its numeric id alone, and carrying its peer URL so
 * that membership views (which MicroRaft persists and replicates) tell every node where to reach it.
 */
public final class Member implements RaftEndpoint {
    private final int id;
    private final String peerUrl;

    public Member(int id, String peerUrl) {
        if (id <= 0) {
            throw new IllegalArgumentException("member id must be positive, not " + id);
        }
        this.id = id;
        this.peerUrl = Objects.requireNonNull(peerUrl);
    }

    /**
     * The member with this id at this peer URL.
     *
     * @throws IllegalArgumentException with a one-line reason if the id is not positive or the URL is not
     *                                  {@code http://host:port}
     */
    public static Member parse(int id, String peerUrl) {
        URI uri;
        try {
            uri = new URI(peerUrl.trim());
        } catch (URISyntaxException e) {
            uri = null;
        }
        if (uri == null || !"http".equals(uri.getScheme()) || uri.getHost() == null || uri.getPort() <= 0
                || !(uri.getPath() == null || uri.getPath().isEmpty()) || uri.getQuery() != null) {
            throw new IllegalArgumentException("bad peer URL '" + peerUrl.trim() + "': want http://host:port");
        }
        return new Member(id, uri.toString());
    }

    @Override
    public Integer getId() {
        return id;
    }

    public int id() {
        return id;
    }

    public String peerUrl() {
        return peerUrl;
    }

    /** The host of {@link #peerUrl()}. */
    public String host() {
        return URI.create(peerUrl).getHost();
    }

    /** The port of {@link #peerUrl()}. */
    public int port() {
        return URI.create(peerUrl).getPort();
    }

    /** Two members are the same when their ids are: a member's identity does not change with its address. */
    @Override
    public boolean equals(Object o) {
        return o instanceof Member other && other.id == id;
    }

    @Override
    public int hashCode() {
        return Integer.hashCode(id);
    }

    @Override
    public String toString() {
        return "member " + id + " (" + peerUrl + ")";
    }
}
