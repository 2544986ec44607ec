package io.vmguard.virtio.pci;

import io.vmguard.pci.MsixCapability;

/**
 * Where the virtio structures sit in the transport's one memory BAR, each on a 4 KiB page of its own (so a
 * VMM could later trap, or hand to the guest, one structure without the others):
 *
 * <pre>
 *   0x0000  common configuration     {@link CommonConfig#LENGTH} bytes
 *   0x1000  ISR status               1 byte, read-to-clear
 *   0x2000  device configuration     4 KiB (the device answers its own bytes, zero beyond)
 *   0x3000  notifications            {@link #NOTIFY_OFF_MULTIPLIER} bytes per queue
 *   0x4000  MSI-X table              16 bytes per vector
 *   0x5000  MSI-X pending bits
 * </pre>
 *
 * <p>The BAR is 32-bit and not prefetchable: reads have side effects (ISR), and the root complex decodes
 * BARs only inside its 32-bit window.
 */
final class BarLayout {
    static final int BAR = 0;
    static final long BAR_SIZE = 0x8000;
    private static final long PAGE = 0x1000;

    static final long COMMON = 0x0000;
    static final long ISR = 0x1000;
    static final long ISR_LENGTH = 1;
    static final long DEVICE_CONFIG = 0x2000;
    static final long DEVICE_CONFIG_LENGTH = PAGE;
    static final long NOTIFY = 0x3000;
    /**
     * Queue {@code n}'s notification address is NOTIFY + n * 4 (queue_notify_off is the queue index): every
     * queue has its own address, so the address alone says which queue was kicked, and Linux's 16-bit
     * write of the index fits.
     */
    static final int NOTIFY_OFF_MULTIPLIER = 4;
    static final long MSIX_TABLE = 0x4000;
    static final long MSIX_PBA = 0x5000;

    /** One MSI-X vector per queue plus the configuration vector must fit the table's page. */
    static final int MAX_QUEUES = (int) (PAGE / MsixCapability.ENTRY_SIZE) - 1;

    private BarLayout() {}

    /** Bytes of the notification structure for {@code queues} queues (at least one address, as drivers map one). */
    static long notifyLength(int queues) {
        return (long) Math.max(queues, 1) * NOTIFY_OFF_MULTIPLIER;
    }
}
