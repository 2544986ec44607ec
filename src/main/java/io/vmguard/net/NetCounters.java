package io.vmguard.net;

/**
 * What a backend has carried since it was opened. Every frame given to {@link NetBackend#send} is counted
 * either in {@code txFrames} or in {@code txDropped}; every frame that arrived for the guest either in
 * {@code rxFrames} or in {@code rxDropped} (it did not fit the receive buffer or was shorter than an
 * Ethernet header). Byte counts are whole frames, as on the wire. {@code txWaits} counts the frames that found
 * the peer's queue full and waited for room (sent or dropped after), {@code txWaitNanos} the time they waited.
 */
public record NetCounters(long txFrames, long txBytes, long txDropped, long rxFrames, long rxBytes, long rxDropped,
                          long txWaits, long txWaitNanos) {}
