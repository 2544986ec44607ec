package io.vmguard.virtio;

/**
 * What one virtio device has done since it was built, for the API's metrics.
 *
 * @param requests      chains the device completed (block requests, frames either way, console buffers, rng fills)
 * @param bytes         payload bytes moved between the guest and the backend
 * @param errors        requests that failed or were dropped (an I/O error status, a frame lost, a bad buffer)
 * @param notifications queue notifications (kicks) the transport passed to the device
 * @param interrupts    interrupts the transport raised for it (used buffers and configuration changes)
 * @param serviceNanos  host time the device spent serving requests (taking them from the rings, moving
 *                      their data, returning them), on whichever thread did it: where the VMM's own time goes
 */
public record DeviceCounters(long requests, long bytes, long errors, long notifications, long interrupts, long serviceNanos) {
    public static final DeviceCounters ZERO = new DeviceCounters(0, 0, 0, 0, 0, 0);

    /** These device counters with the transport's two. */
    public DeviceCounters withTransport(long notifications, long interrupts) {
        return new DeviceCounters(requests, bytes, errors, notifications, interrupts, serviceNanos);
    }
}
