package io.vmguard.virtio;

/** Transport and ring feature bits every device type shares (virtio 1.2, section 6). */
public final class VirtioFeatures {
    /** Descriptors may point at tables of further descriptors. */
    public static final long RING_INDIRECT_DESC = 1L << 28;
    /** used_event / avail_event suppress notifications instead of the flags. */
    public static final long RING_EVENT_IDX = 1L << 29;
    /** A modern (1.x) device: little-endian, no legacy layout. vmguard offers nothing else. */
    public static final long VERSION_1 = 1L << 32;
    /** The device's DMA goes through a platform IOMMU: the driver must map buffers (set when one is in front). */
    public static final long ACCESS_PLATFORM = 1L << 33;

    /** What vmguard's transports offer for every device, on top of the device's own bits. */
    public static final long TRANSPORT = VERSION_1 | RING_INDIRECT_DESC | RING_EVENT_IDX;

    private VirtioFeatures() {}

    public static boolean has(long features, long bit) {
        return (features & bit) != 0;
    }
}
