package io.metcd.model;

import java.util.Collection;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A bounded queue from one stage of the node to another, as a Go channel between goroutines. The node makes each
 * channel and hands the stage that sends on it the {@link Sender} end and the stage that receives the {@link Receiver}
 * end (raftexample's {@code chan<-} and {@code <-chan}), so that each stage can only use its own direction.
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

    private final BlockingQueue<T> queue;
    private final Sender<T> sender;
    private final Receiver<T> receiver;

    /** A channel that holds up to {@code capacity} items. */
    public Channel(int capacity) {
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.sender = new Sender<>() {
            @Override
            public void put(T item) throws InterruptedException {
                queue.put(item);
            }

            @Override
            public boolean offer(T item) {
                return queue.offer(item);
            }
        };
        this.receiver = new Receiver<>() {
            @Override
            public T take() throws InterruptedException {
                return queue.take();
            }

            @Override
            public int drainTo(Collection<? super T> to, int max) {
                return queue.drainTo(to, max);
            }
        };
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
