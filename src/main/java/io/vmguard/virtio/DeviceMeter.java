package io.vmguard.virtio;

import java.util.concurrent.atomic.LongAdder;

/**
 * A device's live request counters: updated from any of its threads without a lock (each update is a
 * LongAdder cell, cheap on the hot path), read as {@link DeviceCounters} by the metrics endpoint.
 */
public final class DeviceMeter {
    private final LongAdder requests = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder serviceNanos = new LongAdder();

    /** A request completed, moving {@code payloadBytes}. */
    public void completed(long payloadBytes) {
        requests.increment();
        bytes.add(payloadBytes);
    }

    /** A request failed or was dropped. */
    public void failed() {
        requests.increment();
        errors.increment();
    }

    /** An error not tied to one request (e.g. a backend fault). */
    public void error() {
        errors.increment();
    }

    /** Serving requests took {@code nanos} of host time (measured by the device around its work). */
    public void served(long nanos) {
        serviceNanos.add(nanos);
    }

    /** The counts so far; notifications and interrupts are the transport's and read 0 here. */
    public DeviceCounters counters() {
        return new DeviceCounters(requests.sum(), bytes.sum(), errors.sum(), 0, 0, serviceNanos.sum());
    }
}
