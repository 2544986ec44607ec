package io.vmguard.vmm;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.AcpiPlatform;
import io.vmguard.arch.x86.acpi.Viot;
import io.vmguard.bus.Bus;
import io.vmguard.bus.BusRange;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.events.VmEvents;
import io.vmguard.iommu.VirtioIommu;
import io.vmguard.net.FrameLatency;
import io.vmguard.pci.PciAddress;
import io.vmguard.pci.PciDevice;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.mmio.VirtioMmioTransport;
import io.vmguard.virtio.pci.VirtioPciTransport;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetBackend;
import io.vmguard.net.NetCounters;
import io.vmguard.net.NetException;
import io.vmguard.net.NetModel;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The VM's virtio devices, on the transport the configuration names. On PCI each is a function in the
 * next free slot of the root bus, found by the guest's enumeration. On virtio-mmio slot {@code n} is the
 * 4 KiB window at VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SLOT_SIZE raising device GSI {@code 16 + n % 8},
 * declared to the guest in the ACPI DSDT. Each device reaches guest memory only through the DMA door it
 * is given here ({@link DmaDoors}): with the IOMMU (the default) the virtio-iommu is the first PCI function,
 * every other device offers ACCESS_PLATFORM and its DMA is translated through its endpoint's domain.
 *
 * <p>Each device has a short name for metrics and snapshots, by kind and order: {@code block0},
 * {@code block1}, {@code net0}, {@code console}, {@code rng} (a second console or rng would be
 * {@code console1}, {@code rng1}).
 *
 * <p><b>Pause, snapshot, restore</b> (as in Firecracker). {@link #pause} returns once no device touches
 * guest memory or raises an interrupt: block requests under way have completed, the network cards take no
 * frames from their backends (a frame already taken is held, and saved), console input waits.
 * {@link #saveState} needs the devices paused. {@link #restoreState} goes into devices freshly built from
 * the same configuration (disks reopened by path, network backends reopened by path or name), brings each
 * device that was running back to life where it was, and leaves everything paused: {@link #resume} when the
 * vCPUs run again. The PCI root's state (every function's configuration space, MSI-X tables) is not here:
 * the VM saves it beside this and must restore it first ({@link PciRoot#restoreState}), since a device
 * that comes back running needs its bus mastering and MSI-X as the guest left them. The tree:
 *
 * <pre>
 *   transport: "pci" | "mmio"
 *   devices[]: kind ("iommu", "block", "net", "console", "rng"), name ("iommu", "block0", ...),
 *              disk {path, readOnly, bytes}   (block devices only)
 *              transport {selectors, ISR or InterruptStatus, control {status, features, queues[] ...,
 *                         device {...}}}
 * </pre>
 */
final class VirtioDevices implements AutoCloseable, Snapshottable {
    private static final int DEVICE_GSIS = X86Layout.GSI_COUNT - X86Layout.FIRST_DEVICE_GSI;

    /** One device as attached: its short name, its transport (the snapshot's unit) and the transport's control. */
    private record Attached(String key, VirtioDevice device, VirtioControl control, Snapshottable transport) {}

    private final List<VirtioDevice> devices = new ArrayList<>();
    /** Written while the VM is built, read by the metrics endpoint from any thread. */
    private final List<Attached> attached = new CopyOnWriteArrayList<>();
    private final List<AcpiPlatform.VirtioMmioSlot> slots = new ArrayList<>();
    private final Bus mmio;
    private final PciRoot pci;
    private final VirtioTransport transport;
    private final VirtualMachine machine;
    private final GuestMemory memory;
    private final DmaDoors doors;
    /** Where the virtio-iommu sits on PCI, once added (for the ACPI VIOT). */
    private PciAddress iommuAddress;

    private OutputStream consoleOutput;
    private SerialTarget consoleTarget;
    private boolean paused;

    VirtioDevices(Bus mmio, PciRoot pci, VirtioTransport transport, VirtualMachine machine, GuestMemory memory) {
        this(mmio, pci, transport, machine, memory, DmaDoors.create(memory, VmEvents.none(), false, DmaDoors.toEngine(machine)));
    }

    /** Devices whose DMA goes through {@code doors} (the IOMMU's, when the VM has one). */
    VirtioDevices(Bus mmio, PciRoot pci, VirtioTransport transport, VirtualMachine machine, GuestMemory memory,
                  DmaDoors doors) {
        this.mmio = mmio;
        this.pci = pci;
        this.transport = transport;
        this.machine = machine;
        this.memory = memory;
        this.doors = doors;
    }

    /**
     * Creates the devices {@code config} asks for: the virtio-iommu first when the VM has one (always on PCI,
     * and never translating itself), then disks, network cards, the console and the rng behind it.
     */
    void attach(VmConfig config) throws VmException {
        // I/O threads serve virtio-blk requests and virtio-net transmit off the vCPU. VMGUARD_IO_THREADS=off
        // serves them on the kicking vCPU instead: a comparison for benchmarks (scripts/bench-io), not a setting.
        boolean ioThreads = !"off".equals(System.getenv("VMGUARD_IO_THREADS"));
        // virtio-net offers checksum and TCP segmentation offloads; VMGUARD_NET_OFFLOAD=off leaves them out, so
        // the guest checksums and segments itself (benchmarks compare the two, and QEMU's dgram backend has none;
        // tests set the system property vmguard.netOffload instead).
        boolean netOffloads = !"off".equals(System.getProperty("vmguard.netOffload", System.getenv("VMGUARD_NET_OFFLOAD")));
        if (doors.iommu().isPresent()) {
            addIommu(doors.iommu().get());
        }
        for (int i = 0; i < config.disks().size(); i++) {
            DiskConfig disk = config.disks().get(i);
            try {
                add(ioThreads ? VirtioBlock.open(disk, "io-blk" + i) : VirtioBlock.open(disk), "virtio-blk " + i + " (" + disk.path() + ")");
            } catch (IOException e) {
                throw new VmException("cannot open disk " + disk.path() + ": " + e.getMessage(), e);
            }
        }
        int virtioCards = 0;
        for (NetSpec spec : config.nets()) {
            if (spec.model() != NetModel.VIRTIO) {
                continue; // an emulated card: EmulatedNics puts it on PCI
            }
            int i = virtioCards++;
            NetBackend backend;
            try {
                backend = NetBackend.open(spec);
            } catch (NetException e) {
                throw new VmException(e.getMessage(), e);
            }
            MacAddress mac = spec.mac().orElseGet(() -> MacAddress.generate(new SecureRandom()));
            add(new VirtioNet(backend, mac, "net-rx" + i, ioThreads ? "net-tx" + i : null, netOffloads), "virtio-net " + i + " (" + backend.description() + ")");
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
        String key = keyFor(device.type());
        attached.add(switch (transport) {
            case PCI -> addOnPci(device, name, key);
            case MMIO -> addOnMmio(device, name, key);
        });
    }

    /** The kind of a device as snapshots and metrics name it. */
    private static String kind(DeviceType type) {
        return switch (type) {
            case BLOCK -> "block";
            case NET -> "net";
            case CONSOLE -> "console";
            case ENTROPY -> "rng";
            case IOMMU -> "iommu";
        };
    }

    /** Disks and network cards are numbered from 0; of the others the first has the bare kind. */
    private String keyFor(DeviceType type) {
        long earlier = attached.stream().filter(a -> a.device().type() == type).count();
        boolean numbered = type == DeviceType.BLOCK || type == DeviceType.NET;
        return numbered || earlier > 0 ? kind(type) + earlier : kind(type);
    }

    private void addIommu(VirtioIommu iommu) throws VmException {
        devices.add(iommu);
        VirtioPciTransport function = new VirtioPciTransport(iommu, "virtio-iommu", doors.untranslated(), pci.msiSink());
        iommuAddress = place(function, "virtio-iommu");
        attached.add(new Attached(keyFor(iommu.type()), iommu, function.control(), function));
    }

    private Attached addOnPci(VirtioDevice device, String name, String key) throws VmException {
        PciAddress at = pci.nextAddress().orElseThrow(() -> new VmException("cannot put " + name + " on PCI: the bus is full"));
        VirtioPciTransport function = new VirtioPciTransport(device, name, doors.forPci(at, name), pci.msiSink(),
                doors.virtioFeatures());
        place(function, name);
        return new Attached(key, device, function.control(), function);
    }

    private PciAddress place(PciDevice function, String name) throws VmException {
        try {
            return pci.add(function);
        } catch (IllegalStateException e) {
            throw new VmException("cannot put " + name + " on PCI: " + e.getMessage(), e);
        }
    }

    private Attached addOnMmio(VirtioDevice device, String name, String key) throws VmException {
        int index = slots.size();
        if (index >= X86Layout.VIRTIO_MMIO_MAX_DEVICES) {
            throw new VmException("too many virtio-mmio devices (at most " + X86Layout.VIRTIO_MMIO_MAX_DEVICES + ")");
        }
        long base = X86Layout.VIRTIO_MMIO_BASE + index * X86Layout.VIRTIO_MMIO_SLOT_SIZE;
        // Level-triggered lines may be shared, so slots beyond the eighth share GSIs round-robin.
        int gsi = X86Layout.FIRST_DEVICE_GSI + index % DEVICE_GSIS;
        VirtioMmioTransport window = new VirtioMmioTransport(device, name, doors.forMmio(index, name), machine.interruptLine(gsi),
                doors.virtioFeatures());
        mmio.register(new BusRange(base, VirtioMmioTransport.WINDOW_SIZE), window);
        slots.add(new AcpiPlatform.VirtioMmioSlot(base, VirtioMmioTransport.WINDOW_SIZE, gsi));
        return new Attached(key, device, window.control(), window);
    }

    /**
     * The ACPI VIOT's description of the IOMMU, when the VM has one: the virtio-iommu's PCI function, every
     * function on bus 0 behind it (endpoint ID = BDF), and each virtio-mmio slot as an endpoint of its own.
     */
    Optional<Viot> viot() {
        if (iommuAddress == null) {
            return Optional.empty();
        }
        List<Viot.MmioEndpoint> endpoints = new ArrayList<>();
        for (int slot = 0; slot < slots.size(); slot++) {
            endpoints.add(new Viot.MmioEndpoint(slots.get(slot).base(), DmaDoors.MMIO_ENDPOINT_BASE + slot));
        }
        return Optional.of(new Viot(iommuAddress,
                List.of(Viot.PciRange.bus(0)), endpoints));
    }

    /** The virtio-mmio slots, for the ACPI tables (none on PCI, where enumeration finds the devices). */
    List<AcpiPlatform.VirtioMmioSlot> slots() {
        return List.copyOf(slots);
    }

    // ---- pause, counters, snapshots ----

    /**
     * Pauses every device, in order; returns once none touches guest memory or raises an interrupt (at most
     * about 0.1 s per network card, whose receive thread may be waiting on its backend). Idempotent.
     */
    synchronized void pause() {
        for (Attached device : attached) {
            device.control().pause();
        }
        paused = true;
    }

    /** Lets every device run again; each looks at its queues once, for kicks that came while paused. */
    synchronized void resume() {
        for (Attached device : attached) {
            device.control().resume();
        }
        paused = false;
    }

    /** Each device's counters by its short name ({@code block0}, {@code net0}, {@code console}, {@code rng}), in order. */
    SequencedMap<String, DeviceCounters> counters() {
        SequencedMap<String, DeviceCounters> counters = new LinkedHashMap<>();
        for (Attached device : attached) {
            counters.put(device.key(), device.control().counters());
        }
        return counters;
    }

    /** Each virtio-net card's own latency figures by its short name ({@code net0}, ...), in order. */
    SequencedMap<String, FrameLatency.Snapshot> netLatency() {
        return perNetCard(net -> net.latency().snapshot());
    }

    /** Each virtio-net card's backend counters (frames, drops, waits for a full peer queue) by its short name. */
    SequencedMap<String, NetCounters> netBackends() {
        return perNetCard(VirtioNet::backendCounters);
    }

    private <T> SequencedMap<String, T> perNetCard(Function<VirtioNet, T> figure) {
        SequencedMap<String, T> figures = new LinkedHashMap<>();
        for (Attached device : attached) {
            if (device.device() instanceof VirtioNet net) {
                figures.put(device.key(), figure.apply(net));
            }
        }
        return figures;
    }

    /** Writes the devices' state (the tree in this class's comment). The devices must be paused. */
    @Override
    public synchronized void saveState(StateWriter out) {
        if (!paused) {
            throw new IllegalStateException("virtio devices must be paused before they are saved");
        }
        out.putString("transport", transport.name().toLowerCase(Locale.ROOT));
        for (Attached device : attached) {
            StateWriter entry = out.append("devices").putString("kind", kind(device.device().type())).putString("name", device.key());
            if (device.device() instanceof VirtioBlock disk) {
                entry.child("disk").putString("path", disk.path().toString()).putBoolean("readOnly", disk.readOnly())
                        .putLong("bytes", disk.imageBytes());
            }
            entry.save("transport", device.transport());
        }
    }

    /** As {@link #restoreState(StateReader, Map)} with every network card taking its MAC from the snapshot. */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        restoreState(in, Map.of());
    }

    /**
     * Restores freshly attached devices, built from the configuration the snapshot was taken with, and leaves
     * them paused; the PCI root must have been restored already. A network card in {@code macOverrides} (by
     * card index: 0 is {@code net0}, the guest's eth0) keeps that MAC instead of the snapshot's: a clone must
     * not share its parent's address.
     */
    synchronized void restoreState(StateReader in, Map<Integer, MacAddress> macOverrides) throws SnapshotException {
        long present = attached.stream().filter(device -> device.device() instanceof VirtioNet).count();
        for (int card : macOverrides.keySet()) {
            if (card < 0 || card >= present) {
                throw new IllegalArgumentException("MAC override for network card " + card + ", but this VM has " + present);
            }
        }
        String savedTransport = in.getString("transport");
        if (!savedTransport.equals(transport.name().toLowerCase(Locale.ROOT))) {
            throw new SnapshotException("snapshot field " + field(in, "transport") + " is " + savedTransport + ", but this VM's virtio devices are on "
                    + transport.name().toLowerCase(Locale.ROOT));
        }
        List<StateReader> entries = in.list("devices", attached.size());
        if (entries.size() != attached.size()) {
            throw new SnapshotException("snapshot field " + field(in, "devices") + " has " + entries.size() + " entries, but this VM has "
                    + attached.size() + " virtio devices");
        }
        pause(); // nothing of the fresh devices may run while their state changes under them
        int disks = 0;
        int cards = 0;
        for (int i = 0; i < entries.size(); i++) {
            StateReader entry = entries.get(i);
            Attached device = attached.get(i);
            String kind = entry.getString("kind");
            if (!kind.equals(kind(device.device().type()))) {
                throw new SnapshotException("snapshot field " + entry.path() + ".kind is " + kind + ", but device " + i + " of this VM is "
                        + kind(device.device().type()));
            }
            if (device.device() instanceof VirtioBlock disk) {
                checkDisk(entry.child("disk"), disks++, disk);
            }
            if (device.device() instanceof VirtioNet card && macOverrides.get(cards++) instanceof MacAddress mac) {
                card.useMacOnRestore(mac);
            }
            entry.restore("transport", device.transport());
        }
    }

    private static String field(StateReader in, String key) {
        return in.path().isEmpty() ? key : in.path() + "." + key;
    }

    /** The disk must be the one the snapshot saw: same size and access, or the guest's view of it is wrong. */
    private static void checkDisk(StateReader saved, int index, VirtioBlock disk) throws SnapshotException {
        String name = "disk " + index + " (" + disk.path() + ")";
        long bytes = saved.getLong("bytes", 0, Long.MAX_VALUE);
        if (bytes != disk.imageBytes()) {
            throw new SnapshotException(name + " changed size: was " + bytes + " bytes, now " + disk.imageBytes());
        }
        boolean readOnly = saved.getBoolean("readOnly");
        if (readOnly != disk.readOnly()) {
            throw new SnapshotException(name + " was " + (readOnly ? "read-only" : "writable") + " in the snapshot, is "
                    + (disk.readOnly() ? "read-only" : "writable") + " now");
        }
        saved.getString("path"); // recorded for the VMM and for people; a clone may keep its disks elsewhere
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
