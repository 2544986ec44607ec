package io.vmguard.vmm;

/**
 * How the VM's virtio devices reach the guest: as PCI functions on the root bus (the default, as in Cloud
 * Hypervisor: MSI-X per queue, found by enumeration) or as virtio-mmio windows declared on the kernel
 * command line.
 */
public enum VirtioTransport {
    PCI, MMIO;

    /** {@code pci} or {@code mmio}, as {@code run --virtio-transport} takes it. */
    public static VirtioTransport parse(String name) {
        return switch (name) {
            case "pci" -> PCI;
            case "mmio" -> MMIO;
            default -> throw new IllegalArgumentException("virtio transport must be pci or mmio, not '" + name + "'");
        };
    }
}
