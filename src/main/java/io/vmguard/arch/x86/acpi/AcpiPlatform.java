package io.vmguard.arch.x86.acpi;

import io.vmguard.arch.x86.X86Layout;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * What the ACPI tables describe: how many vCPUs, whether a PCI host bridge (configuration through ports
 * 0xCF8/0xCFC and ECAM) is there, the virtio-mmio devices with their registers and interrupts, and, when
 * there is one, the virtio-iommu and the endpoints behind it (a VIOT table; none without it). Everything
 * else (APIC addresses, PCI windows, ECAM) is fixed by {@link X86Layout}. A TPM 2.0, when there is one, gets
 * a TPM2 table and a DSDT device.
 */
public record AcpiPlatform(int vcpus, boolean pciHost, List<VirtioMmioSlot> virtioMmio, Optional<Viot> iommu,
                           Optional<Tpm2> tpm) {
    /** xAPIC ids are one byte and 0xff is the broadcast id. */
    public static final int MAX_VCPUS = 255;
    private static final long VIRTIO_MMIO_END =
            X86Layout.VIRTIO_MMIO_BASE + X86Layout.VIRTIO_MMIO_MAX_DEVICES * X86Layout.VIRTIO_MMIO_SLOT_SIZE;

    /** One virtio-mmio device: its register window and the (level-triggered) GSI it raises. */
    public record VirtioMmioSlot(long base, long size, int gsi) {
        public VirtioMmioSlot {
            if (size <= 0 || base < X86Layout.VIRTIO_MMIO_BASE || base > VIRTIO_MMIO_END - size) {
                throw new IllegalArgumentException(String.format(
                        "virtio-mmio device at 0x%x+0x%x lies outside the virtio-mmio area [0x%x, 0x%x)",
                        base, size, X86Layout.VIRTIO_MMIO_BASE, VIRTIO_MMIO_END));
            }
            if (gsi < X86Layout.FIRST_DEVICE_GSI || gsi >= X86Layout.GSI_COUNT) {
                throw new IllegalArgumentException("virtio-mmio device at 0x" + Long.toHexString(base) + " uses GSI " + gsi
                        + "; devices get GSIs " + X86Layout.FIRST_DEVICE_GSI + "-" + (X86Layout.GSI_COUNT - 1));
            }
        }

        public long end() {
            return base + size;
        }
    }

    /** A platform without an IOMMU. */
    public AcpiPlatform(int vcpus, boolean pciHost, List<VirtioMmioSlot> virtioMmio) {
        this(vcpus, pciHost, virtioMmio, Optional.empty());
    }

    /** A platform without a TPM. */
    public AcpiPlatform(int vcpus, boolean pciHost, List<VirtioMmioSlot> virtioMmio, Optional<Viot> iommu) {
        this(vcpus, pciHost, virtioMmio, iommu, Optional.empty());
    }

    /** The same platform with {@code device} as its TPM 2.0 (a TPM2 table and an MSFT0101 device). */
    public AcpiPlatform withTpm(Tpm2 device) {
        return new AcpiPlatform(vcpus, pciHost, virtioMmio, iommu, Optional.of(device));
    }

    public AcpiPlatform {
        if (vcpus < 1 || vcpus > MAX_VCPUS) {
            throw new IllegalArgumentException("vCPU count " + vcpus + " is not between 1 and " + MAX_VCPUS);
        }
        virtioMmio = List.copyOf(virtioMmio);
        if (virtioMmio.size() > X86Layout.VIRTIO_MMIO_MAX_DEVICES) {
            throw new IllegalArgumentException(virtioMmio.size() + " virtio-mmio devices; at most " + X86Layout.VIRTIO_MMIO_MAX_DEVICES);
        }
        List<VirtioMmioSlot> byBase = virtioMmio.stream().sorted(Comparator.comparingLong(VirtioMmioSlot::base)).toList();
        for (int i = 1; i < byBase.size(); i++) {
            if (byBase.get(i).base() < byBase.get(i - 1).end()) {
                throw new IllegalArgumentException(String.format("virtio-mmio devices at 0x%x and 0x%x overlap",
                        byBase.get(i - 1).base(), byBase.get(i).base()));
            }
        }
        iommu.ifPresent(viot -> checkIommu(viot, pciHost, byBase));
        java.util.Objects.requireNonNull(tpm, "tpm");
    }

    /**
     * A virtio-pci IOMMU needs the PCI host bridge (Linux finds the IOMMU's function at ACPI init, and
     * configures a PCI endpoint's DMA through the bridge's ACPI companion, PCI0); a virtio-mmio endpoint
     * must be one the DSDT declares, or Linux has no device to match the node to.
     */
    private static void checkIommu(Viot viot, boolean pciHost, List<VirtioMmioSlot> slots) {
        if (!pciHost) {
            throw new IllegalArgumentException("a virtio-pci IOMMU needs the PCI host bridge");
        }
        if (viot.iommu().bus() > X86Layout.PCI_LAST_BUS) {
            throw new IllegalArgumentException("the virtio-iommu at " + viot.iommu() + " is on no bus of the host bridge");
        }
        for (Viot.MmioEndpoint endpoint : viot.mmioEndpoints()) {
            if (slots.stream().noneMatch(slot -> slot.base() == endpoint.base())) {
                throw new IllegalArgumentException(String.format(
                        "VIOT names a virtio-mmio endpoint at 0x%x, where the DSDT declares no virtio-mmio device", endpoint.base()));
            }
        }
    }
}
