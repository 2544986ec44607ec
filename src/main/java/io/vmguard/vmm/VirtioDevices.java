package io.vmguard.vmm;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import io.vmguard.bus.BusRange;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.mmio.VirtioMmioTransport;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM's virtio devices on virtio-mmio: slot {@code n} is the 4 KiB window at
 * VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE with its own interrupt line. Each device reaches guest
 * memory only through the DMA space it is given here.
 */
final class VirtioDevices implements AutoCloseable {
    /** Legacy IRQs nothing else uses, reachable through the 8259 as well as the I/O APIC. */
    private static final int[] IRQS = {5, 6, 7, 9, 10, 11, 12, 14, 15};

    /** Where a device sits, for the guest's device description (command line or ACPI). */
    record Slot(String name, long base, long size, int gsi) {}

    private final List<VirtioDevice> devices = new ArrayList<>();
    private final List<Slot> slots = new ArrayList<>();
    private final Bus mmio;
    private final VirtualMachine machine;
    private final GuestMemory memory;

    VirtioDevices(Bus mmio, VirtualMachine machine, GuestMemory memory) {
        this.mmio = mmio;
        this.machine = machine;
        this.memory = memory;
    }

    /** Adds a device in the next slot; the guest sees devices in the order they are added. */
    void add(VirtioDevice device, String name) throws VmException {
        int index = slots.size();
        if (index >= IRQS.length) {
            devices.add(device); // closed with the others
            throw new VmException("too many virtio devices (at most " + IRQS.length + ")");
        }
        long base = X86Layout.VIRTIO_MMIO_BASE + index * X86Layout.VIRTIO_MMIO_SLOT_SIZE;
        int gsi = IRQS[index];
        devices.add(device);
        VirtioMmioTransport transport = new VirtioMmioTransport(device, name, new GuestDmaSpace(memory), machine.interruptLine(gsi));
        mmio.register(new BusRange(base, VirtioMmioTransport.WINDOW_SIZE), transport);
        slots.add(new Slot(name, base, VirtioMmioTransport.WINDOW_SIZE, gsi));
    }

    List<Slot> slots() {
        return List.copyOf(slots);
    }

    /** The kernel command-line words that declare the devices to Linux's virtio_mmio driver. */
    String commandLine() {
        StringBuilder line = new StringBuilder();
        for (Slot slot : slots) {
            line.append(" virtio_mmio.device=").append(slot.size() >> 10).append("K@0x").append(Long.toHexString(slot.base()))
                    .append(':').append(slot.gsi());
        }
        return line.toString().strip();
    }

    @Override
    public void close() {
        for (VirtioDevice device : devices) {
            device.close();
        }
    }
}
