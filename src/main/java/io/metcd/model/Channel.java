package io.metcd.model;

import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.function.ToIntFunction;

/**
 * A bounded queue from one stage of the node to another, as a Go channel between goroutines. The node makes each
 * channel and hands the stage that sends on it the {@link Sender} end and the stage that receives the {@link Receiver}
 * end (raftexample's {@code chan<-} and {@code <-chan}), so that each stage can only use its own direction.
 * <p>
 * The bound is a budget the items weigh against: by default each item weighs one (a count); a channel whose items
 * stand for different amounts of work weighs them by it ({@code commitC}: an entry by its client writes).
 */
public final class Channel<T> {
    /** The sending end. */
    public interface Sender<T> {
        /** Sends {@code item}, waiting while the channel is full: a slow receiver holds the sender back. */
        void put(T item) throws InterruptedException;

        /** Sends {@code item} if the channel has room now; returns whether it did. */
        boolean offer(T item);
    }

    /** The receiving end. */
    public interface Receiver<T> {
        /** The oldest item, once there is one. */
        T take() throws InterruptedException;

        /** Moves up to {@code max} of the items already there, oldest first, to {@code to}; returns how many. */
        int drainTo(Collection<? super T> to, int max);
    }

    /** Unbounded itself: {@link #room} bounds it. */
    private final BlockingQueue<T> queue = new LinkedBlockingQueue<>();
    /** The budget not taken by the items in the queue: a sender takes an item's weight before queueing it. */
    private final Semaphore room;
    private final int budget;
    private final ToIntFunction<? super T> weight;
    private final Sender<T> sender;
    private final Receiver<T> receiver;

    /** A channel that holds up to {@code capacity} items. */
    public Channel(int capacity) {
        this(capacity, item -> 1);
    }

    /**
     * A channel that holds items up to a total {@code weight} of {@code budget}; an item weighs at least one. An item
     * that weighs more than the whole budget takes all of it: it waits for the channel to be empty (with one sender;
     * lighter items of other senders may pass it), and then goes through.
     *
     * @param weight an item's weight, the same each time it is asked
     */
    public Channel(int budget, ToIntFunction<? super T> weight) {
        if (budget < 1) {
            throw new IllegalArgumentException("a channel's budget must be positive: " + budget);
        }
        this.room = new Semaphore(budget);
        this.budget = budget;
        this.weight = weight;
        this.sender = new Sender<>() {
            @Override
            public void put(T item) throws InterruptedException {
                Objects.requireNonNull(item);
                room.acquire(share(item));
                queue.add(item);
            }

            @Override
            public boolean offer(T item) {
                Objects.requireNonNull(item);
                if (!room.tryAcquire(share(item))) {
                    return false;
                }
                queue.add(item);
                return true;
            }
        };
        this.receiver = new Receiver<>() {
            @Override
            public T take() throws InterruptedException {
                T item = queue.take();
                room.release(share(item));
                return item;
            }

            @Override
            public int drainTo(Collection<? super T> to, int max) {
                int moved = 0;
                for (T item; moved < max && (item = queue.poll()) != null; moved++) {
                    room.release(share(item));
                    to.add(item);
                }
                return moved;
            }
        };
    }

    /** The part of the budget {@code item} takes while it waits in the channel. */
    private int share(T item) {
        return Math.clamp(weight.applyAsInt(item), 1, budget);
    }

    /** The end to hand the stage that sends. */
    public Sender<T> sender() {
        return sender;
    }

    /** The end to hand the stage that receives. */
    public Receiver<T> receiver() {
        return receiver;
    }
}
