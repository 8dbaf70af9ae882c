package io.metcd.model;

/**
 * What was asked could not be done in time: no leader, no quorum, or no commit within the request timeout. The
 * caller may ask again later; a write refused so may still be applied. The HTTP API answers it with a 503.
 */
public class Unavailable extends RuntimeException {
    public Unavailable(String reason) {
        super(reason, null, false, false);
    }
}
