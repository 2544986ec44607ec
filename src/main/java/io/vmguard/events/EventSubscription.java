package io.vmguard.events;

import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One reader's bounded queue of events from an {@link EventHub}. The hub offers without waiting; when the
 * queue is full the event is counted as lost, and so is every later one until the reader has taken all
 * that were queued: then the reader gets one {@link Delivery.Lost} with the count, at the place in the
 * stream where the gap is, and events flow again.
 */
public final class EventSubscription implements AutoCloseable {
    /** What a reader gets from {@link #next}. */
    public sealed interface Delivery {
        record Event(SecurityEvent event) implements Delivery {}

        /** {@code count} events were dropped here because the reader fell behind. */
        record Lost(long count) implements Delivery {}

        /** Nothing arrived within the wait. */
        record Idle() implements Delivery {}

        /** The subscription ended (the reader closed it, or the hub shut down). */
        record Closed() implements Delivery {}
    }

    /** Queued after the last event so a waiting reader wakes up when the subscription closes. */
    private static final SecurityEvent END = new SecurityEvent(java.time.Instant.EPOCH, "", Source.VMM, "end",
            Severity.INFO, java.util.Map.of());

    private final int capacity;
    private final BlockingQueue<SecurityEvent> queue;
    private final Consumer<EventSubscription> onClose;
    private long lost;
    private long lostTotal;
    private volatile boolean closed;

    EventSubscription(int capacity, Consumer<EventSubscription> onClose) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        // One slot more than asked, kept for END, so closing never has to wait for room.
        this.queue = new ArrayBlockingQueue<>(capacity + 1);
        this.capacity = capacity;
        this.onClose = onClose;
    }

    synchronized void offer(SecurityEvent event) {
        if (closed) {
            return;
        }
        if (lost > 0 || queue.size() >= capacity) {
            lost++;
            lostTotal++;
            return;
        }
        queue.add(event);
    }

    /** The next delivery, waiting at most {@code wait} for one. */
    public Delivery next(Duration wait) throws InterruptedException {
        synchronized (this) {
            SecurityEvent queued = queue.poll();
            if (queued != null) {
                return queued == END ? new Delivery.Closed() : new Delivery.Event(queued);
            }
            if (lost > 0) {
                long count = lost;
                lost = 0;
                return new Delivery.Lost(count);
            }
            if (closed) {
                return new Delivery.Closed();
            }
        }
        SecurityEvent event = queue.poll(wait.toNanos(), TimeUnit.NANOSECONDS);
        if (event == null) {
            return new Delivery.Idle();
        }
        return event == END ? new Delivery.Closed() : new Delivery.Event(event);
    }

    /** Events this subscription has lost in all. */
    public synchronized long lostTotal() {
        return lostTotal;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            queue.offer(END);
        }
        onClose.accept(this);
    }
}
