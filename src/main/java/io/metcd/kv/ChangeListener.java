package io.metcd.kv;

import java.util.List;

/**
 * Told what the store applied, in revision order, on the applier's thread: it must only hand the events on, never
 * block. A watch hub implements it.
 */
public interface ChangeListener {
    /**
     * The applier made a pass visible: its events, in the order applied (revisions ascending, each revision's events
     * together). Called once the applied index is published, so that a read made after an event sees it. Events at or
     * below the revision of the last {@link #restored} call may come, once, just after it: a listener ignores them.
     */
    void applied(List<Event> events);

    /**
     * The store's whole state was replaced by a snapshot at {@code revision}, or the listener starts listening to a
     * store at that revision: the events between the last one told and that revision will never be told.
     */
    void restored(long revision);

    ChangeListener NONE = new ChangeListener() {
        @Override
        public void applied(List<Event> events) {
        }

        @Override
        public void restored(long revision) {
        }
    };
}
