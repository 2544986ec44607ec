package io.vmguard.pci;

import io.vmguard.arch.x86.PciInterruptRouting;
import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.bus.InterruptLine;
import io.vmguard.bus.MsiSink;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.stream.IntStream;

/**
 * The PCI root complex: bus 0 with the host bridge at 00:00.0 and the devices vmguard adds in slots 1,
 * 2, ... (function 0 each; every other function is absent and reads as all ones).
 *
 * <p>Three bus devices give the guest its view. {@link #CONFIG_PORTS}: configuration mechanism 1, the
 * address register at 0xCF8 and the data window at 0xCFC-0xCFF. {@link #ECAM}: the same configuration
 * spaces memory-mapped, 4 KiB per function. {@link #MMIO_WINDOW}: the 32-bit BAR window, one bus device
 * for all of it that sends each access to whichever function's enabled BAR decodes the address at that
 * moment, so BARs can move (the bus cannot re-register) and a disabled BAR stops answering at once.
 * BARs programmed outside the window decode nothing.
 *
 * <p>Like firmware, {@link #add} gives each BAR a naturally aligned address in the window and turns on
 * memory space, and fills the interrupt line register with the GSI the pin is routed to
 * ({@link PciInterruptRouting}); Linux keeps what firmware assigned.
 *
 * <p>A snapshot holds the configuration address register and every function's configuration space, the
 * host bridge's included ({@link PciConfigSpace#saveState}): BARs as the guest programmed them, the
 * command register, capabilities such as MSI-X. It is restored into a root built with the same functions
 * in the same slots, before the functions' own devices are restored (a device that comes back running may
 * need bus mastering on, and its interrupts need MSI-X as the guest set it up).
 */
public final class PciRoot implements Snapshottable {
    public static final BusRange CONFIG_PORTS = new BusRange(0xcf8, 8);
    public static final BusRange ECAM = new BusRange(X86Layout.PCI_ECAM, X86Layout.PCI_ECAM_SIZE);
    public static final BusRange MMIO_WINDOW = new BusRange(X86Layout.PCI_MMIO_WINDOW, X86Layout.PCI_MMIO_WINDOW_SIZE);
    /**
     * Where I/O BARs are placed: the top 16 KiB of port space, inside the host bridge's I/O window in the
     * DSDT (0x0D00-0xFFFF), so Linux keeps the addresses, and clear of every legacy port vmguard has.
     */
    public static final BusRange IO_WINDOW = new BusRange(0xc000, 0x4000);

    private final IntFunction<InterruptLine> gsiLines;
    private final MsiSink msiSink;
    /** Bus 0 by slot; replaced whole on add, so vCPU threads read it without a lock. */
    private volatile PciDevice[] slots = new PciDevice[PciAddress.DEVICES_PER_BUS];
    private final Map<Integer, SharedInterruptLine> sharedLines = new HashMap<>();
    private long nextBarAddress = MMIO_WINDOW.base();
    private long nextIoAddress = IO_WINDOW.base();

    private final ConfigPorts configPorts = new ConfigPorts(this);
    private final EcamWindow ecam = new EcamWindow(this);
    private final BarWindow barWindow = new BarWindow(this, BarWindow.Space.MEMORY, MMIO_WINDOW);
    private final BarWindow ioWindow = new BarWindow(this, BarWindow.Space.IO, IO_WINDOW);

    /**
     * @param gsiLines the interrupt controller's inputs by GSI (the VM's {@code interruptLine})
     * @param msiSink  where MSI-X messages go (the VM's {@code signalMsi}); devices get it from {@link #msiSink()}
     */
    public PciRoot(IntFunction<InterruptLine> gsiLines, MsiSink msiSink) {
        this.gsiLines = gsiLines;
        this.msiSink = msiSink;
        place(0, new HostBridge());
    }

    /** The sink a device's {@link MsixCapability} should send to. */
    public MsiSink msiSink() {
        return msiSink;
    }

    /** Registers the configuration ports, the ECAM window and the BAR window on the VM's buses. */
    public void registerOn(Bus io, Bus mmio) {
        io.register(CONFIG_PORTS, configPorts);
        mmio.register(ECAM, ecam);
        mmio.register(MMIO_WINDOW, barWindow);
        io.register(IO_WINDOW, ioWindow);
    }

    /**
     * Puts {@code device} in the next free slot of bus 0, places its BARs and enables memory space, and
     * wires its interrupt pin. Throws when the bus or the window is full (a VMM configuration error).
     */
    /**
     * Where the next {@link #add} will put a function: a device's DMA door is made for its address (its
     * IOMMU endpoint ID) before the device exists. Empty when the bus is full.
     */
    public synchronized java.util.Optional<PciAddress> nextAddress() {
        int slot = Arrays.asList(slots).indexOf(null);
        return slot < 0 ? java.util.Optional.empty() : java.util.Optional.of(new PciAddress(0, slot, 0));
    }

    public synchronized PciAddress add(PciDevice device) {
        int slot = Arrays.asList(slots).indexOf(null);
        if (slot < 0) {
            throw new IllegalStateException("PCI bus 0 is full");
        }
        PciConfigSpace config = device.config();
        long next = nextBarAddress;
        long nextIo = nextIoAddress;
        long[] addresses = new long[PciConfigSpace.BAR_COUNT];
        boolean hasIo = false;
        for (int i = 0; i < PciConfigSpace.BAR_COUNT; i++) {
            PciBar bar = config.bar(i).orElse(null);
            if (bar != null && bar.isIo()) {
                addresses[i] = (nextIo + bar.size() - 1) & -bar.size();
                nextIo = addresses[i] + bar.size();
                hasIo = true;
                if (nextIo > IO_WINDOW.end()) {
                    throw new IllegalStateException("the PCI I/O window has no room for BAR " + i + " of " + device);
                }
            } else if (bar != null) {
                addresses[i] = (next + bar.size() - 1) & -bar.size();
                next = addresses[i] + bar.size();
                if (next > MMIO_WINDOW.end()) {
                    throw new IllegalStateException("the PCI MMIO window has no room for BAR " + i + " of " + device);
                }
            }
        }
        nextBarAddress = next;
        nextIoAddress = nextIo;
        boolean hasBars = false;
        for (int i = 0; i < PciConfigSpace.BAR_COUNT; i++) {
            if (config.bar(i).isPresent()) {
                config.assignBar(i, addresses[i]);
                hasBars = true;
            }
        }
        if (hasBars) {
            config.enable(PciConfigSpace.COMMAND_MEMORY | (hasIo ? PciConfigSpace.COMMAND_IO : 0));
        }
        InterruptPin pin = config.interruptPin();
        if (pin != InterruptPin.NONE) {
            int gsi = PciInterruptRouting.gsi(slot, pin.index());
            config.setInterruptLineRegister(gsi);
            config.connectInterrupt(sharedLines.computeIfAbsent(gsi, g -> new SharedInterruptLine(gsiLines.apply(g))).newInput());
        }
        place(slot, device);
        return new PciAddress(0, slot, 0);
    }

    private synchronized void place(int slot, PciDevice device) {
        PciDevice[] next = slots.clone();
        next[slot] = device;
        slots = next;
    }

    /** The function at an address, or null where there is none. */
    PciDevice function(int bus, int device, int function) {
        if (bus != 0 || function != 0 || device < 0 || device >= PciAddress.DEVICES_PER_BUS) {
            return null;
        }
        return slots[device];
    }

    /** A configuration read; absent functions read all ones, as a master abort does. */
    int readConfig(int bus, int device, int function, int offset, int size) {
        PciDevice target = function(bus, device, function);
        return target == null ? -1 : target.readConfig(offset, size);
    }

    void writeConfig(int bus, int device, int function, int offset, int size, int value) {
        PciDevice target = function(bus, device, function);
        if (target != null) {
            target.writeConfig(offset, size, value);
        }
    }

    /**
     * Hands an access in one of the BAR windows to the device whose enabled BAR of that kind decodes it.
     * False when none does (the window then answers reads with all ones and drops writes).
     */
    boolean accessBar(BarWindow.Space space, long address, MemorySegment data, boolean write) {
        int size = (int) data.byteSize();
        for (PciDevice device : slots) {
            if (device == null) {
                continue;
            }
            PciConfigSpace.BarHit hit = switch (space) {
                case MEMORY -> device.config().decode(address, size);
                case IO -> device.config().decodeIo(address, size);
            };
            if (hit != null) {
                if (write) {
                    device.writeBar(hit.bar(), hit.offset(), data);
                } else {
                    device.readBar(hit.bar(), hit.offset(), data);
                }
                return true;
            }
        }
        return false;
    }

    // ---- snapshots ----

    @Override
    public void saveState(StateWriter out) {
        out.putInt("configAddress", configPorts.address());
        PciDevice[] present = slots;
        for (int slot = 0; slot < present.length; slot++) {
            if (present[slot] != null) {
                out.append("functions").putInt("slot", slot).save("config", present[slot].config());
            }
        }
    }

    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        int address = in.getInt("configAddress");
        if (!ConfigPorts.validAddress(address)) {
            throw PciConfigSpace.invalid(in, "configAddress", "0x" + Integer.toHexString(address) + " sets reserved bits");
        }
        PciDevice[] present = slots;
        List<Integer> occupied = IntStream.range(0, present.length).filter(slot -> present[slot] != null).boxed().toList();
        List<StateReader> functions = in.list("functions", PciAddress.DEVICES_PER_BUS);
        if (functions.size() != occupied.size()) {
            throw PciConfigSpace.invalid(in, "functions", "has " + functions.size() + " entries, but bus 0 has "
                    + occupied.size() + " functions");
        }
        for (int i = 0; i < functions.size(); i++) {
            StateReader function = functions.get(i);
            int slot = function.getInt("slot", 0, PciAddress.DEVICES_PER_BUS - 1);
            if (slot != occupied.get(i)) {
                throw PciConfigSpace.invalid(function, "slot", "is " + slot + ", but the function there now is in slot " + occupied.get(i));
            }
            function.restore("config", present[slot].config());
        }
        configPorts.restoreAddress(address);
    }

    // ---- the bus devices, for tests ----

    BusDevice configPorts() {
        return configPorts;
    }

    BusDevice ecam() {
        return ecam;
    }

    BusDevice barWindow() {
        return barWindow;
    }
}
