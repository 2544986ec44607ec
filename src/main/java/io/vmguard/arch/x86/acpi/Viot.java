package io.vmguard.arch.x86.acpi;

import io.vmguard.pci.PciAddress;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What the Virtual I/O Translation table (VIOT, ACPI 6.5, 5.2.32) tells the guest: that a virtio-iommu
 * sits at PCI function {@code iommu} (segment 0) and which endpoints it translates for, with the endpoint
 * ID each one has in the virtio-iommu's requests.
 *
 * <ul>
 *   <li>{@link PciRange}: PCI functions by BDF (bus << 8 | device << 3 | function), segment 0. The node's
 *       endpoint_start is the range's first BDF, so a function's endpoint ID is its BDF, as in QEMU and
 *       Cloud Hypervisor. Linux computes {@code (bdf - bdf_start) + endpoint_start}.
 *   <li>{@link MmioEndpoint}: a virtio-mmio device declared in the DSDT, named by the base address of its
 *       register window (Linux matches it against the platform device's first memory resource, which is
 *       the DSDT's Memory32Fixed), with an endpoint ID of the VMM's choosing. The ID must be none a PCI
 *       range gives: the virtio-iommu tells endpoints apart by ID alone.
 * </ul>
 *
 * <p>A range may contain the IOMMU's own BDF (QEMU's whole-bus range does): Linux never makes the
 * virtio-iommu translate for itself. An endpoint named by no node gets no IOMMU from Linux: with the
 * device's bypass off, it can do no DMA at all.
 */
public record Viot(PciAddress iommu, List<PciRange> pciRanges, List<MmioEndpoint> mmioEndpoints) {
    static final String SIGNATURE = "VIOT";
    /** QEMU and crosvm write 0; Linux does not check it. */
    private static final int REVISION = 0;
    /** The VIOT header after the common 36: node count, node offset, 8 reserved bytes. */
    static final int NODES_OFFSET = Sdt.HEADER_SIZE + 12;
    static final int TYPE_PCI_RANGE = 1, TYPE_MMIO_ENDPOINT = 2, TYPE_VIRTIO_PCI_IOMMU = 3, TYPE_VIRTIO_MMIO_IOMMU = 4;
    static final int PCI_RANGE_LENGTH = 24, MMIO_ENDPOINT_LENGTH = 24, VIRTIO_PCI_IOMMU_LENGTH = 16;
    /** vmguard has one PCI segment. */
    private static final int SEGMENT = 0;

    /** PCI functions {@code firstBdf..lastBdf} (inclusive), endpoint ID = BDF. */
    public record PciRange(int firstBdf, int lastBdf) {
        public PciRange {
            if (firstBdf < 0 || lastBdf > 0xffff || firstBdf > lastBdf) {
                throw new IllegalArgumentException(String.format("bad VIOT PCI range 0x%x-0x%x", firstBdf, lastBdf));
            }
        }

        /** One function. */
        public static PciRange of(PciAddress function) {
            int bdf = bdf(function);
            return new PciRange(bdf, bdf);
        }

        /** Every function on {@code bus}: BDF bus:00.0 to bus:1f.7. */
        public static PciRange bus(int bus) {
            return new PciRange(bdf(new PciAddress(bus, 0, 0)), bdf(new PciAddress(bus, PciAddress.DEVICES_PER_BUS - 1,
                    PciAddress.FUNCTIONS_PER_DEVICE - 1)));
        }

        boolean contains(long endpointId) {
            return endpointId >= firstBdf && endpointId <= lastBdf;
        }
    }

    /** A DSDT-declared virtio-mmio device at {@code base}, endpoint ID {@code endpointId} (unsigned 32 bits). */
    public record MmioEndpoint(long base, long endpointId) {
        public MmioEndpoint {
            if (endpointId < 0 || endpointId > 0xffff_ffffL) {
                throw new IllegalArgumentException("VIOT endpoint ID " + endpointId + " is not 32 bits");
            }
        }
    }

    public Viot {
        pciRanges = List.copyOf(pciRanges);
        mmioEndpoints = List.copyOf(mmioEndpoints);
        List<PciRange> byStart = pciRanges.stream().sorted(Comparator.comparingInt(PciRange::firstBdf)).toList();
        for (int i = 1; i < byStart.size(); i++) {
            if (byStart.get(i).firstBdf() <= byStart.get(i - 1).lastBdf()) {
                throw new IllegalArgumentException(String.format("VIOT PCI ranges 0x%x-0x%x and 0x%x-0x%x overlap",
                        byStart.get(i - 1).firstBdf(), byStart.get(i - 1).lastBdf(), byStart.get(i).firstBdf(), byStart.get(i).lastBdf()));
            }
        }
        List<Long> ids = new ArrayList<>();
        List<Long> bases = new ArrayList<>();
        for (MmioEndpoint endpoint : mmioEndpoints) {
            for (PciRange range : pciRanges) {
                if (range.contains(endpoint.endpointId())) {
                    throw new IllegalArgumentException(String.format(
                            "VIOT endpoint ID 0x%x of the virtio-mmio device at 0x%x is also a PCI endpoint's (range 0x%x-0x%x)",
                            endpoint.endpointId(), endpoint.base(), range.firstBdf(), range.lastBdf()));
                }
            }
            if (ids.contains(endpoint.endpointId())) {
                throw new IllegalArgumentException(String.format("VIOT endpoint ID 0x%x is given twice", endpoint.endpointId()));
            }
            if (bases.contains(endpoint.base())) {
                throw new IllegalArgumentException(String.format("VIOT names the virtio-mmio device at 0x%x twice", endpoint.base()));
            }
            ids.add(endpoint.endpointId());
            bases.add(endpoint.base());
        }
    }

    /** The BDF of a function as PCI and the VIOT write it: bus << 8 | device << 3 | function. */
    public static int bdf(PciAddress function) {
        return function.bus() << 8 | function.device() << 3 | function.function();
    }

    /**
     * The table: the virtio-pci IOMMU node first, at offset 48 (every endpoint node's output_node points at
     * it), then one node per PCI range, then one per virtio-mmio endpoint. Packed, little-endian; the
     * layout of Linux's {@code include/acpi/actbl3.h}.
     */
    byte[] table() {
        ByteWriter body = new ByteWriter()
                .u16(1 + pciRanges.size() + mmioEndpoints.size())
                .u16(NODES_OFFSET)
                .zeros(8);
        body.u8(TYPE_VIRTIO_PCI_IOMMU).u8(0).u16(VIRTIO_PCI_IOMMU_LENGTH)
                .u16(SEGMENT)
                .u16(bdf(iommu))
                .zeros(8);
        for (PciRange range : pciRanges) {
            body.u8(TYPE_PCI_RANGE).u8(0).u16(PCI_RANGE_LENGTH)
                    .u32(range.firstBdf()) // endpoint_start: endpoint ID = BDF
                    .u16(SEGMENT).u16(SEGMENT)
                    .u16(range.firstBdf()).u16(range.lastBdf())
                    .u16(NODES_OFFSET) // output_node: the IOMMU
                    .zeros(6);
        }
        for (MmioEndpoint endpoint : mmioEndpoints) {
            body.u8(TYPE_MMIO_ENDPOINT).u8(0).u16(MMIO_ENDPOINT_LENGTH)
                    .u32(endpoint.endpointId())
                    .u64(endpoint.base())
                    .u16(NODES_OFFSET)
                    .zeros(6);
        }
        return Sdt.build(SIGNATURE, REVISION, body.toArray());
    }
}
