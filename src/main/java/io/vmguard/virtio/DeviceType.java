package io.vmguard.virtio;

/** The virtio device IDs vmguard implements (virtio 1.2, section 5). */
public enum DeviceType {
    NET(1), BLOCK(2), CONSOLE(3), ENTROPY(4), IOMMU(23);

    private final int id;

    DeviceType(int id) {
        this.id = id;
    }

    /** The ID a driver reads from the transport. */
    public int id() {
        return id;
    }
}
