package io.vmguard.vmm;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import io.vmguard.bus.BusRange;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.pci.PciRoot;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.mmio.VirtioMmioTransport;
import io.vmguard.virtio.pci.VirtioPciTransport;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetException;
import io.vmguard.net.NetSpec;
import io.vmguard.virtio.block.DiskConfig;
import io.vmguard.virtio.block.VirtioBlock;
import io.vmguard.virtio.console.VirtioConsole;
import io.vmguard.virtio.net.VirtioNet;
import io.vmguard.virtio.rng.VirtioRng;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM's virtio devices, on the transport the configuration names. On PCI each is a function in the
 * next free slot of the root bus, found by the guest's enumeration. On virtio-mmio slot {@code n} is the
 * 4 KiB window at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE with its own interrupt line, declared on
 * the kernel command line. Each device reaches guest memory only through the DMA space it is given here.
 */
final class VirtioDevices implements AutoCloseable {
    /** Legacy IRQs nothing else uses, reachable through the 8259 as well as the I/O APIC. */
    private static final int[] IRQS = {5, 6, 7, 9, 10, 11, 12, 14, 15};

    /** Where a device sits, for the guest's device description (command line or ACPI). */
    record Slot(String name, long base, long size, int gsi) {}

    private final List<VirtioDevice> devices = new ArrayList<>();
    private final List<Slot> slots = new ArrayList<>();
    private final Bus mmio;
    private final PciRoot pci;
    private final VirtioTransport transport;
    private final VirtualMachine machine;
    private final GuestMemory memory;

    private OutputStream consoleOutput;
    private SerialTarget consoleTarget;

    VirtioDevices(Bus mmio, PciRoot pci, VirtioTransport transport, VirtualMachine machine, GuestMemory memory) {
        this.mmio = mmio;
        this.pci = pci;
        this.transport = transport;
        this.machine = machine;
        this.memory = memory;
    }

    /** Creates the devices {@code config} asks for: disks, then network cards, then the console, then the rng. */
    void attach(VmConfig config) throws VmException {
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig disk = config.disks().get(i);
            try {
                add(VirtioBlock.open(disk), "virtio-blk " + i + " (" + disk.path() + ")");
            } catch (IOException e) {
                throw new VmException("cannot open disk " + disk.path() + ": " + e.getMessage(), e);
            }
        }
        for (int i = 0; i < config.nets().size(); i++) {
            NetSpec spec = config.nets().get(i);
            NetBackend backend;
            try {
                backend = NetBackend.open(spec);
            } catch (NetException e) {
                throw new VmException(e.getMessage(), e);
            }
            MacAddress mac = spec.mac().orElseGet(() -> MacAddress.generate(new SecureRandom()));
            add(new VirtioNet(backend, mac, "virtio-net" + i), "virtio-net " + i + " (" + backend.description() + ")");
        }
        if (config.console().isPresent()) {
            consoleTarget = config.console().get();
            consoleOutput = ConsoleStreams.output(consoleTarget, "virtio console");
            InputStream input = ConsoleStreams.input(consoleTarget);
            add(VirtioConsole.start(input == null ? InputStream.nullInputStream() : input, consoleOutput), "virtio-console");
        }
        add(new VirtioRng(), "virtio-rng");
    }

    /** Adds a device in the next slot; the guest sees devices in the order they are added. */
    void add(VirtioDevice device, String name) throws VmException {
        devices.add(device); // closed with the others, even if it finds no slot
        switch (transport) {
            case PCI -> addOnPci(device, name);
            case MMIO -> addOnMmio(device, name);
        }
    }

    private void addOnPci(VirtioDevice device, String name) throws VmException {
        try {
            pci.add(new VirtioPciTransport(device, name, new GuestDmaSpace(memory), pci.msiSink()));
        } catch (IllegalStateException e) {
            throw new VmException("cannot put " + name + " on PCI: " + e.getMessage(), e);
        }
    }

    private void addOnMmio(VirtioDevice device, String name) throws VmException {
        int index = slots.size();
        if (index >= IRQS.length) {
            throw new VmException("too many virtio-mmio devices (at most " + IRQS.length + ")");
        }
        long base = X86Layout.VIRTIO_MMIO_BASE + index * X86Layout.VIRTIO_MMIO_SLOT_SIZE;
        int gsi = IRQS[index];
        VirtioMmioTransport window = new VirtioMmioTransport(device, name, new GuestDmaSpace(memory), machine.interruptLine(gsi));
        mmio.register(new BusRange(base, VirtioMmioTransport.WINDOW_SIZE), window);
        slots.add(new Slot(name, base, VirtioMmioTransport.WINDOW_SIZE, gsi));
    }

    /** The virtio-mmio slots (none on PCI, where enumeration finds the devices). */
    List<Slot> slots() {
        return List.copyOf(slots);
    }

    /** The kernel command-line words that declare virtio-mmio devices to Linux's virtio_mmio driver (none on PCI). */
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
        if (consoleOutput != null) {
            ConsoleStreams.close(consoleOutput, consoleTarget, "virtio console");
        }
    }
}
