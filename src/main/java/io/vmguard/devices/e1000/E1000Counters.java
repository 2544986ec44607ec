package io.vmguard.devices.e1000;

/**
 * What an e1000 card has done since it was built, for metrics and tests. Frames are counted as the wire
 * sees them (a TSO packet is {@code tsoSegments} frames); the error counts are the guest's doing.
 *
 * @param tsoPackets       packets the driver handed over for segmentation
 * @param tsoSegments      frames segmentation made of them
 * @param checksumOffloads frames whose checksums the card inserted (outside TSO)
 * @param malformed        packets dropped because their descriptors or offload context made no sense
 * @param dmaFaults        descriptor or buffer accesses the DMA door refused (a master abort): frame dropped
 * @param ringErrors       doorbells or frames refused because a ring's registers were out of range
 * @param rxDropped        frames from the wire the card could not deliver (receiver off, no buffers, too long)
 */
public record E1000Counters(long txFrames, long txBytes, long rxFrames, long rxBytes, long tsoPackets, long tsoSegments,
                            long checksumOffloads, long malformed, long dmaFaults, long ringErrors, long rxDropped) {}
