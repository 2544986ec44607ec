package io.vmguard.vmm;

import io.vmguard.dma.DeviceWriteObserver;
import io.vmguard.dma.DmaSpace;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.events.GuestLog;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.iommu.IommuFault;
import io.vmguard.iommu.VirtioIommu;
import io.vmguard.memory.GuestMemory;
import io.vmguard.pci.PciAddress;
import io.vmguard.arch.x86.acpi.Viot;
import io.vmguard.virtio.VirtioFeatures;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where each device's DMA goes. With the IOMMU (the default) every device gets a door of its own that
 * translates through its endpoint's domain in the VM's virtio-iommu, so it reaches only what the guest mapped
 * for it, and never anything before the guest attached it; without, every door is the identity map of guest
 * memory. Endpoint IDs: a PCI function's BDF (as the ACPI VIOT says), and {@link #MMIO_ENDPOINT_BASE} plus the
 * slot for virtio-mmio devices.
 *
 * <p>A refused access becomes a security event ({@code source: "iommu"}, kind {@code dma-fault}). A guest can
 * make a device fault as fast as it likes, so each endpoint reports its first {@link #FAULTS_REPORTED_IN_FULL}
 * faults and after that only the 2^n-th, with the running count: the log stays bounded and shows the rate.
 *
 * <p>Every door ends in one {@link GuestDmaSpace} per device whose writes are announced to the engine
 * ({@link #toEngine}): an interpreter must drop code a device overwrote, and ask the antivirus again.
 * Translated writes reach guest memory only through it.
 */
final class DmaDoors {
    /** Endpoint IDs of virtio-mmio devices: above every BDF (16 bits), so they never meet a PCI endpoint. */
    static final int MMIO_ENDPOINT_BASE = 0x1_0000;
    static final int FAULTS_REPORTED_IN_FULL = 16;

    private final GuestMemory memory;
    private final DeviceWriteObserver writes;
    private final VirtioIommu iommu;
    private final Map<Integer, AtomicLong> faultsByEndpoint = new ConcurrentHashMap<>();

    private DmaDoors(GuestMemory memory, VmEvents events, boolean translated, DeviceWriteObserver writes) {
        this.memory = memory;
        this.writes = writes;
        this.iommu = translated ? new VirtioIommu(fault -> report(events, fault)) : null;
    }

    /**
     * Doors through a new virtio-iommu when {@code iommu}, else straight to guest memory; every device write
     * is told to {@code writes}.
     */
    static DmaDoors create(GuestMemory memory, VmEvents events, boolean iommu, DeviceWriteObserver writes) {
        return new DmaDoors(memory, events, iommu, writes);
    }

    /** What devices write, told to {@code machine}'s engine. */
    static DeviceWriteObserver toEngine(io.vmguard.engine.VirtualMachine machine) {
        return new DeviceWriteObserver() {
            @Override
            public void writing(long address, long length) {
                machine.guestMemoryWriteBegins(address, length);
            }

            @Override
            public void written(long address, long length) {
                machine.guestMemoryWriteEnds(address, length);
            }
        };
    }

    /** The untranslated door, for the virtio-iommu itself (its requests are never translated). */
    DmaSpace untranslated() {
        return new GuestDmaSpace(memory, writes);
    }

    /** The VM's virtio-iommu, to be put on PCI before the devices it translates for. */
    Optional<VirtioIommu> iommu() {
        return Optional.ofNullable(iommu);
    }

    /** The door of the PCI function that will sit at {@code address}. */
    DmaSpace forPci(PciAddress address, String device) {
        return door(Viot.bdf(address), device);
    }

    /** The door of the virtio-mmio device in slot {@code slot}. */
    DmaSpace forMmio(int slot, String device) {
        return door(MMIO_ENDPOINT_BASE + slot, device);
    }

    /** The virtio feature bits a device behind these doors must offer: ACCESS_PLATFORM when translated. */
    long virtioFeatures() {
        return iommu == null ? 0 : VirtioFeatures.ACCESS_PLATFORM;
    }

    private DmaSpace door(int endpoint, String device) {
        DmaSpace guest = untranslated();
        return iommu == null ? guest : iommu.dmaSpace(endpoint, device, guest);
    }

    private void report(VmEvents events, IommuFault fault) {
        long count = faultsByEndpoint.computeIfAbsent(fault.endpoint(), e -> new AtomicLong()).incrementAndGet();
        if (count > FAULTS_REPORTED_IN_FULL && Long.bitCount(count) != 1) {
            return;
        }
        Map<String, Object> details = new LinkedHashMap<>(fault.details());
        details.put("faults_from_endpoint", count);
        events.emit(Source.IOMMU, "dma-fault", Severity.ALARM, details);
        GuestLog.warn("iommu fault " + fault.device(), "IOMMU refused a DMA " + fault.access().name().toLowerCase(java.util.Locale.ROOT)
                + " by " + fault.device() + " at 0x" + Long.toHexString(fault.address()) + " (" + fault.reason() + ")");
    }
}
