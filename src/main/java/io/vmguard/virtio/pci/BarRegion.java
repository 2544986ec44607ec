package io.vmguard.virtio.pci;

/**
 * Which virtio structure an access inside the BAR falls in, with the offset inside it (see {@link BarLayout}).
 * An access that does not lie wholly inside one structure falls in none. The MSI-X table and PBA are the
 * MSI-X capability's and are dispatched before this.
 */
sealed interface BarRegion {
    record Common(long offset) implements BarRegion {}

    record Isr(long offset) implements BarRegion {}

    record DeviceConfig(long offset) implements BarRegion {}

    record Notify(long offset) implements BarRegion {}

    record Unmapped() implements BarRegion {}

    static BarRegion at(long offset, int size, int queues) {
        if (inside(offset, size, BarLayout.COMMON, CommonConfig.LENGTH)) {
            return new Common(offset - BarLayout.COMMON);
        }
        if (inside(offset, size, BarLayout.ISR, BarLayout.ISR_LENGTH)) {
            return new Isr(offset - BarLayout.ISR);
        }
        if (inside(offset, size, BarLayout.DEVICE_CONFIG, BarLayout.DEVICE_CONFIG_LENGTH)) {
            return new DeviceConfig(offset - BarLayout.DEVICE_CONFIG);
        }
        if (inside(offset, size, BarLayout.NOTIFY, BarLayout.notifyLength(queues))) {
            return new Notify(offset - BarLayout.NOTIFY);
        }
        return new Unmapped();
    }

    private static boolean inside(long offset, int size, long start, long length) {
        return offset >= start && offset + size <= start + length;
    }
}
