package io.vmguard.events;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The one sink a VM emits into when it has live readers: every event goes to the downstream sink (the
 * {@code --events} file, or nowhere) and to each live subscriber (the API's {@code GET /events} streams).
 *
 * <p>Emitting never blocks on a subscriber: each has a bounded queue, and one that cannot keep up loses
 * events (it is told how many, see {@link EventSubscription}) instead of slowing the VM that emits them.
 * Events are emitted under the hub's lock so the file and every stream see them in the same order.
 */
public final class EventHub implements EventSink {
    /** Events a subscriber may fall behind by before it starts losing them. */
    public static final int DEFAULT_QUEUE = 1024;

    private final EventSink downstream;
    private final List<EventSubscription> subscribers = new CopyOnWriteArrayList<>();
    private boolean closed;

    public EventHub(EventSink downstream) {
        this.downstream = Objects.requireNonNull(downstream, "downstream");
    }

    @Override
    public synchronized void emit(SecurityEvent event) {
        if (closed) {
            return; // a late event from a VM being torn down: the file is closed
        }
        downstream.emit(event);
        for (EventSubscription subscriber : subscribers) {
            subscriber.offer(event);
        }
    }

    /** A live view from now on, holding at most {@code capacity} events its reader has not taken yet. */
    public synchronized EventSubscription subscribe(int capacity) {
        EventSubscription subscription = new EventSubscription(capacity, subscribers::remove);
        if (closed) {
            subscription.close();
        } else {
            subscribers.add(subscription);
        }
        return subscription;
    }

    /** Live subscribers now (for the API's metrics). */
    public int subscribers() {
        return subscribers.size();
    }

    /**
     * Ends every subscription: readers get what was queued, then {@link EventSubscription.Delivery.Closed}.
     * Later subscriptions still work (the API may stop while the VM goes on emitting to the file).
     */
    public void endSubscriptions() {
        for (EventSubscription subscriber : subscribers) {
            subscriber.close();
        }
    }

    /** Ends every subscription and closes downstream; events emitted afterwards are dropped. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        endSubscriptions();
        downstream.close();
    }
}
