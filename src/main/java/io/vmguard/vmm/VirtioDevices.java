package io.vmguard.vmm;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.AcpiPlatform;
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
 * 4 KiB window at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE raising device GSI {@code 16 + n % 8},
 * declared to the guest in the ACPI DSDT. Each device reaches guest memory only through the DMA space it
 * is given here.
 */
final class VirtioDevices implements AutoCloseable {
    private static final int DEVICE_GSIS = X86Layout.GSI_COUNT - X86Layout.FIRST_DEVICE_GSI;

    private final List<VirtioDevice> devices = new ArrayList<>();
    private final List<AcpiPlatform.VirtioMmioSlot> slots = new ArrayList<>();
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
        if (index >= X86Layout.VIRTIO_MMIO_MAX_DEVICES) {
            throw new VmException("too many virtio-mmio devices (at most " + X86Layout.VIRTIO_MMIO_MAX_DEVICES + ")");
        }
        long base = X86Layout.VIRTIO_MMIO_BASE + index * X86Layout.VIRTIO_MMIO_SLOT_SIZE;
        // Level-triggered lines may be shared, so slots beyond the eighth share GSIs round-robin.
        int gsi = X86Layout.FIRST_DEVICE_GSI + index % DEVICE_GSIS;
        VirtioMmioTransport window = new VirtioMmioTransport(device, name, new GuestDmaSpace(memory), machine.interruptLine(gsi));
        mmio.register(new BusRange(base, VirtioMmioTransport.WINDOW_SIZE), window);
        slots.add(new AcpiPlatform.VirtioMmioSlot(base, VirtioMmioTransport.WINDOW_SIZE, gsi));
    }

    /** The virtio-mmio slots, for the ACPI tables (none on PCI, where enumeration finds the devices). */
    List<AcpiPlatform.VirtioMmioSlot> slots() {
        return List.copyOf(slots);
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

    // STUB(lead): replaced by the snapshot work merging in; throws so nothing can mistake it for done.
    void pause() {
        throw new UnsupportedOperationException("pause");
    }

    void resume() {
        throw new UnsupportedOperationException("resume");
    }

    void saveState(io.vmguard.snapshot.StateWriter out) {
        throw new UnsupportedOperationException("snapshot");
    }

    void restoreState(io.vmguard.snapshot.StateReader in) throws io.vmguard.snapshot.SnapshotException {
        throw new io.vmguard.snapshot.SnapshotException("devices cannot be restored yet");
    }

    java.util.Map<String, Object> counters() {
        return java.util.Map.of();
    }
}
