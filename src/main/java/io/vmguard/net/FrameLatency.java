package io.vmguard.net;

import java.util.concurrent.atomic.AtomicLong;

/**
 * vmguard's own view of how long a frame waited inside the VMM (issue 17), kept apart from the device so a
 * rewrite of the data path needs only its few calls:
 * <ul>
 *   <li>receive: from the moment the backend handed the frame over (it had arrived on the socket or tap) to
 *       the moment it lay in a guest buffer with the used ring updated and the interrupt decided;</li>
 *   <li>transmit: from the guest's kick (its notification) to the frame leaving through the backend.</li>
 * </ul>
 * and how many notifications came in and interrupts went out. Where the time went, when it is long, is for
 * the host's scheduling data to say: a receive frame waits for the receive thread to be run and for the
 * guest to offer a buffer; a transmit waits for the vCPU that kicked.
 */
public final class FrameLatency {
    private final LatencyHistogram receive = new LatencyHistogram();
    private final LatencyHistogram transmit = new LatencyHistogram();
    private final AtomicLong notifications = new AtomicLong();
    private final AtomicLong interrupts = new AtomicLong();

    /** A frame came from the backend now; returns its arrival stamp for {@link #delivered}. */
    public long arrived() {
        return System.nanoTime();
    }

    /** The frame stamped {@code arrivedAt} is in the guest's memory; {@code interrupt}: the guest is being told. */
    public void delivered(long arrivedAt, boolean interrupt) {
        if (arrivedAt != 0) {
            receive.record(System.nanoTime() - arrivedAt);
        }
        if (interrupt) {
            interrupts.incrementAndGet();
        }
    }

    /** The guest notified the transmit queue now; returns the stamp for {@link #sent}. */
    public long kicked() {
        notifications.incrementAndGet();
        return System.nanoTime();
    }

    /** A frame of the batch kicked at {@code kickedAt} has left through the backend. */
    public void sent(long kickedAt) {
        transmit.record(System.nanoTime() - kickedAt);
    }

    /** A transmit batch ended with an interrupt to the guest (used buffers returned). */
    public void transmitInterrupt() {
        interrupts.incrementAndGet();
    }

    public Snapshot snapshot() {
        return new Snapshot(receive.summary(), transmit.summary(), notifications.get(), interrupts.get());
    }

    /** The figures at one moment: receive (arrival to guest) and transmit (kick to wire) latency, counts. */
    public record Snapshot(LatencySummary receive, LatencySummary transmit, long notifications, long interrupts) {}
}
