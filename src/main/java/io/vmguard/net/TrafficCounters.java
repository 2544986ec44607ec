package io.vmguard.net;

import java.util.concurrent.atomic.AtomicLong;

/** The live counters behind {@link NetCounters}: written by the sending and receiving threads, read by anyone. */
final class TrafficCounters {
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong txBytes = new AtomicLong();
    private final AtomicLong txDropped = new AtomicLong();
    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxBytes = new AtomicLong();
    private final AtomicLong rxDropped = new AtomicLong();
    private final AtomicLong txWaits = new AtomicLong();
    private final AtomicLong txWaitNanos = new AtomicLong();

    void sent(long bytes) {
        txFrames.incrementAndGet();
        txBytes.addAndGet(bytes);
    }

    void sendDropped() {
        txDropped.incrementAndGet();
    }

    void received(long bytes) {
        rxFrames.incrementAndGet();
        rxBytes.addAndGet(bytes);
    }

    void receiveDropped() {
        rxDropped.incrementAndGet();
    }

    /** A frame found the peer's queue full and waited {@code nanos} for room. */
    void waitedForRoom(long nanos) {
        txWaits.incrementAndGet();
        txWaitNanos.addAndGet(nanos);
    }

    NetCounters snapshot() {
        return new NetCounters(txFrames.get(), txBytes.get(), txDropped.get(), rxFrames.get(), rxBytes.get(), rxDropped.get(),
                txWaits.get(), txWaitNanos.get());
    }
}
