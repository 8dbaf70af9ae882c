package io.metcd.raft;

import java.util.List;

/** What the Raft loop publishes on {@code commitC}, in log order, for the store to apply. */
public sealed interface Commit {
    /** The log index this commit brings the store to. */
    long index();

    /** A committed batch of client writes. */
    record Apply(long index, List<Operation.Proposal> proposals) implements Commit {
    }

    /** A committed entry that changes no key (a new leader's term entry, a membership change). */
    record Advance(long index) implements Commit {
    }

    /** A new leader's first entry, in {@code term}: writes forwarded in earlier terms and not yet applied are lost. */
    record TermStarted(long index, int term) implements Commit {
    }

    /** Replace the whole store with a snapshot taken at {@code index} (installed from the leader or on restart). */
    record Restore(long index, List<byte[]> chunks) implements Commit {
    }
}
