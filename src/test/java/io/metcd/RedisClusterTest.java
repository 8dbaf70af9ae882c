package io.metcd;

import io.metcd.model.Member;
import io.metcd.model.Unavailable;
import io.metcd.raft.MembershipException;
import io.metcd.resp.Outcome;
import io.metcd.testkit.FakeCluster;
import io.metcd.testkit.InstantStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** JOIN and LEAVE in Redis's terms: a change made is done, one refused INVALID with its reason, a late one TRYAGAIN. */
class RedisClusterTest {
    private static final String URL = "http://127.0.0.1:13382";
    private final FakeCluster cluster = new FakeCluster(1);
    private final InstantStore store = new InstantStore();
    private final RedisCluster redis = new RedisCluster(cluster, store.store);

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void aChangeMadeIsDone() throws Exception {
        assertThat(redis.addMember(4, URL).get(10, TimeUnit.SECONDS)).isEqualTo(Outcome.done(null));
        assertThat(cluster.members).contains(new Member(4, URL));
    }

    @Test
    void aRefusedChangeIsInvalidWithTheReason() throws Exception {
        assertThat(redis.removeMember(9).get(10, TimeUnit.SECONDS))
                .isEqualTo(Outcome.refused(Outcome.Refusal.INVALID, "no member 9"));
        assertThat(redis.addMember(4, "not a url").get(10, TimeUnit.SECONDS)).isEqualTo(
                Outcome.refused(Outcome.Refusal.INVALID, "bad peer URL 'not a url': want http://host:port"));
    }

    @Test
    void aChangeNotCommittedInTimeMayBeTriedAgain() throws Exception {
        cluster.failure = new Unavailable("membership change not committed in time: timeout");
        assertThat(redis.addMember(4, URL).get(10, TimeUnit.SECONDS))
                .isEqualTo(Outcome.unavailable("membership change not committed in time: timeout"));
    }

    @Test
    void aChangeOnANodeThatJustStoppedLeadingMayBeTriedAgain() throws Exception {
        cluster.failure = new MembershipException(MembershipException.Reason.NOT_LEADER,
                "only the leader changes membership");
        assertThat(redis.removeMember(1).get(10, TimeUnit.SECONDS))
                .isEqualTo(Outcome.unavailable("only the leader changes membership"));
    }
}
