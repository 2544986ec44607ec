package io.vmguard.pci;

import io.vmguard.bus.InterruptLine;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.Snapshottable;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The configuration space of one PCI function with a type 0 (endpoint) header, as the guest sees it
 * through either access mechanism: 256 bytes of conventional space and, through ECAM, 4 KiB in all, whose
 * extended part reads as zero (an empty extended capability list) and ignores writes.
 *
 * <p><b>Header.</b> IDs, class code, revision, subsystem IDs, header type and interrupt pin are read-only.
 * Of the command register only memory space, bus master, parity error response, SERR# enable and
 * interrupt disable can be set, and I/O space on a function with an I/O BAR (elsewhere it stays 0). The status register shows
 * the capabilities-list bit and the INTx state; its error bits stay 0 because nothing here signals errors.
 * Cache line size and interrupt line are plain read-write bytes (Linux and firmware write them); the
 * latency timer, BIST, CardBus CIS and expansion ROM read 0 (none of that exists).
 *
 * <p><b>BARs.</b> A BAR register keeps only its address bits above the BAR's size, so writing all ones
 * reads back the size mask with the flag bits, the probe every OS uses; a 64-bit BAR's second register
 * holds the upper address bits. An unused register reads 0 and ignores writes. What the registers hold
 * is what decodes, and only while memory space is enabled ({@link #decode}).
 *
 * <p><b>Capabilities</b> sit from 0x40 in the order given, each 4-byte aligned, linked from the
 * capabilities pointer at 0x34; the config space answers their ID and next bytes, the rest goes to them.
 *
 * <p><b>INTx.</b> The device requests its interrupt with {@link #setInterrupt}; the status register shows
 * the request, and the pin's line is driven while the guest has not set interrupt disable.
 *
 * <p>Accesses: 1 to 4 bytes at any offset inside the 4 KiB, little-endian; unaligned ones are honoured
 * byte by byte. Header state is guarded by this object's lock; capabilities are called outside it, so a
 * capability may call into its device (virtio's PCI configuration access window does).
 *
 * <p><b>Snapshots</b> hold what the guest and firmware can change: the command register, cache line size,
 * interrupt line, the BAR registers as programmed, the INTx request, and the state of each capability that
 * has one ({@link Snapshottable} capabilities such as MSI-X). The IDs are saved to check that a snapshot is
 * restored into the same kind of function.
 */
public final class PciConfigSpace implements Snapshottable {
    /** Configuration space per function through ECAM; the first {@link #CONVENTIONAL_SIZE} bytes are PCI's. */
    public static final int SIZE = 4096;
    public static final int CONVENTIONAL_SIZE = 256;
    /** Where capabilities go: after the type 0 header, to the end of the conventional space. */
    static final int FIRST_CAPABILITY = 0x40;
    static final int CAPABILITY_SPACE = CONVENTIONAL_SIZE - FIRST_CAPABILITY;

    public static final int VENDOR_ID = 0x00;
    public static final int DEVICE_ID = 0x02;
    public static final int COMMAND = 0x04;
    public static final int STATUS = 0x06;
    public static final int REVISION_ID = 0x08;
    public static final int CLASS_CODE = 0x09;
    public static final int CACHE_LINE_SIZE = 0x0c;
    public static final int HEADER_TYPE = 0x0e;
    public static final int BAR0 = 0x10;
    public static final int BAR_COUNT = 6;
    public static final int SUBSYSTEM_VENDOR_ID = 0x2c;
    public static final int SUBSYSTEM_ID = 0x2e;
    public static final int EXPANSION_ROM = 0x30;
    public static final int CAPABILITIES_POINTER = 0x34;
    public static final int INTERRUPT_LINE = 0x3c;
    public static final int INTERRUPT_PIN = 0x3d;

    public static final int COMMAND_IO = 1;
    public static final int COMMAND_MEMORY = 1 << 1;
    public static final int COMMAND_BUS_MASTER = 1 << 2;
    public static final int COMMAND_PARITY_ERROR_RESPONSE = 1 << 6;
    public static final int COMMAND_SERR = 1 << 8;
    public static final int COMMAND_INTX_DISABLE = 1 << 10;
    public static final int STATUS_INTERRUPT = 1 << 3;
    public static final int STATUS_CAPABILITIES = 1 << 4;

    private static final int COMMAND_WRITABLE = COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY_ERROR_RESPONSE
            | COMMAND_SERR | COMMAND_INTX_DISABLE;
    private static final int BARS_END = BAR0 + 4 * BAR_COUNT;
    /** Per header byte, the bits a guest write may change (BARs aside). */
    private static final byte[] WRITABLE = new byte[CONVENTIONAL_SIZE];

    static {
        WRITABLE[COMMAND] = (byte) COMMAND_WRITABLE;
        WRITABLE[COMMAND + 1] = (byte) (COMMAND_WRITABLE >>> 8);
        WRITABLE[CACHE_LINE_SIZE] = (byte) 0xff;
        WRITABLE[INTERRUPT_LINE] = (byte) 0xff;
    }

    /** A capability and where it sits. */
    private record Placed(int offset, PciCapability capability) {
        int bodyStart() {
            return offset + 2;
        }

        int end() {
            return offset + capability.length();
        }
    }

    /** A decoded BAR access: which BAR and the offset inside it. */
    record BarHit(int bar, long offset) {}

    private final byte[] header = new byte[CONVENTIONAL_SIZE];
    private final PciBar[] bars;
    /** Per BAR register: the address bits the guest may set, its read-only flag bits, its address bits now. */
    private final int[] barMasks = new int[BAR_COUNT];
    private final int[] barFlags = new int[BAR_COUNT];
    private final int[] barRegisters = new int[BAR_COUNT];
    private final List<Placed> capabilities;
    private final InterruptPin pin;
    /** Whether the command register's I/O space bit exists (some BAR decodes I/O). */
    private boolean hasIoBar;
    private InterruptLine intx = InterruptLine.NONE;
    private boolean interruptRequested;
    private boolean lineLevel;

    private PciConfigSpace(Builder b) {
        this.bars = b.bars.clone();
        this.pin = b.pin;
        this.capabilities = List.copyOf(b.placed);
        putShort(VENDOR_ID, b.vendorId);
        putShort(DEVICE_ID, b.deviceId);
        header[REVISION_ID] = (byte) b.revision;
        header[CLASS_CODE] = (byte) b.progIf;
        header[CLASS_CODE + 1] = (byte) b.subClass;
        header[CLASS_CODE + 2] = (byte) b.baseClass;
        putShort(SUBSYSTEM_VENDOR_ID, b.subsystemVendorId);
        putShort(SUBSYSTEM_ID, b.subsystemId);
        header[INTERRUPT_PIN] = (byte) pin.register();
        for (int i = 0; i < BAR_COUNT; i++) {
            PciBar bar = bars[i];
            if (bar == null) {
                continue;
            }
            barMasks[i] = (int) ~(bar.size() - 1) & (bar.isIo() ? ~0x3 : ~0xf);
            hasIoBar |= bar.isIo();
            barFlags[i] = bar.flags();
            if (bar.type() == PciBar.Type.MEMORY64) {
                barMasks[i + 1] = (int) ~((bar.size() - 1) >>> 32);
            }
        }
        if (!capabilities.isEmpty()) {
            header[STATUS] |= STATUS_CAPABILITIES;
            header[CAPABILITIES_POINTER] = (byte) capabilities.getFirst().offset();
            for (int i = 0; i < capabilities.size(); i++) {
                Placed placed = capabilities.get(i);
                header[placed.offset()] = (byte) placed.capability().id();
                header[placed.offset() + 1] = (byte) (i + 1 < capabilities.size() ? capabilities.get(i + 1).offset() : 0);
            }
        }
    }

    public static Builder builder(int vendorId, int deviceId) {
        return new Builder(vendorId, deviceId);
    }

    private void putShort(int offset, int value) {
        header[offset] = (byte) value;
        header[offset + 1] = (byte) (value >>> 8);
    }

    // ---- guest accesses ----

    /** Reads {@code size} (1-4) bytes at {@code offset}, little-endian. */
    public int read(int offset, int size) {
        checkAccess(offset, size);
        int value = 0;
        int at = offset;
        while (at < offset + size) {
            Placed placed = capabilityBodyAt(at);
            int runEnd = placed != null ? Math.min(offset + size, placed.end()) : at + 1;
            int part = placed != null ? placed.capability().read(at - placed.offset(), runEnd - at) : headerByte(at);
            value |= (part & mask(runEnd - at)) << (8 * (at - offset));
            at = runEnd;
        }
        return value;
    }

    /** Writes the low {@code size} (1-4) bytes of {@code value} at {@code offset}. */
    public void write(int offset, int size, int value) {
        checkAccess(offset, size);
        int at = offset;
        while (at < offset + size) {
            Placed placed = capabilityBodyAt(at);
            int runEnd = placed != null ? Math.min(offset + size, placed.end()) : at + 1;
            int part = (value >>> (8 * (at - offset))) & mask(runEnd - at);
            if (placed != null) {
                placed.capability().write(at - placed.offset(), runEnd - at, part);
            } else {
                writeHeaderByte(at, part);
            }
            at = runEnd;
        }
    }

    private static void checkAccess(int offset, int size) {
        if (size < 1 || size > 4 || offset < 0 || offset > SIZE - size) {
            throw new IllegalArgumentException("config access of " + size + " bytes at 0x" + Integer.toHexString(offset));
        }
    }

    private static int mask(int bytes) {
        return bytes == 4 ? -1 : (1 << (8 * bytes)) - 1;
    }

    private Placed capabilityBodyAt(int offset) {
        for (Placed placed : capabilities) {
            if (offset >= placed.bodyStart() && offset < placed.end()) {
                return placed;
            }
        }
        return null;
    }

    private synchronized int headerByte(int offset) {
        if (offset >= CONVENTIONAL_SIZE) {
            return 0;
        }
        if (offset >= BAR0 && offset < BARS_END) {
            int register = (offset - BAR0) >> 2;
            return (barRegisters[register] | barFlags[register]) >>> (8 * (offset & 3)) & 0xff;
        }
        int value = header[offset] & 0xff;
        return offset == STATUS && interruptRequested ? value | STATUS_INTERRUPT : value;
    }

    private synchronized void writeHeaderByte(int offset, int value) {
        if (offset >= CONVENTIONAL_SIZE) {
            return;
        }
        if (offset >= BAR0 && offset < BARS_END) {
            int register = (offset - BAR0) >> 2;
            int shift = 8 * (offset & 3);
            int merged = (barRegisters[register] & ~(0xff << shift)) | (value << shift);
            barRegisters[register] = merged & barMasks[register];
            return;
        }
        int writable = WRITABLE[offset] | (offset == COMMAND && hasIoBar ? COMMAND_IO : 0);
        header[offset] = (byte) ((header[offset] & ~writable) | (value & writable));
        if (offset == COMMAND + 1) {
            driveInterruptLine();
        }
    }

    // ---- state, for the device and the root complex ----

    public synchronized int command() {
        return (header[COMMAND] & 0xff) | (header[COMMAND + 1] & 0xff) << 8;
    }

    public boolean memorySpaceEnabled() {
        return (command() & COMMAND_MEMORY) != 0;
    }

    /** Whether the function may master the bus: a device must not touch guest memory (DMA) otherwise. */
    public boolean busMasterEnabled() {
        return (command() & COMMAND_BUS_MASTER) != 0;
    }

    public InterruptPin interruptPin() {
        return pin;
    }

    /** BAR {@code index} as declared, or empty (unused, or the upper half of a 64-bit BAR). */
    public Optional<PciBar> bar(int index) {
        return index >= 0 && index < BAR_COUNT ? Optional.ofNullable(bars[index]) : Optional.empty();
    }

    /** The address BAR {@code index} holds now (both registers of a 64-bit BAR). */
    public synchronized long barAddress(int index) {
        PciBar bar = bar(index).orElseThrow(() -> new IllegalArgumentException("no BAR " + index));
        long low = Integer.toUnsignedLong(barRegisters[index]);
        return bar.type() == PciBar.Type.MEMORY64 ? low | (long) barRegisters[index + 1] << 32 : low;
    }

    /**
     * Which BAR decodes an access of {@code size} bytes at {@code address}, if any: memory space must be
     * enabled and the access must lie inside the BAR as its registers place it now.
     */
    synchronized BarHit decode(long address, int size) {
        if ((command() & COMMAND_MEMORY) == 0) {
            return null;
        }
        for (int i = 0; i < BAR_COUNT; i++) {
            PciBar bar = bars[i];
            if (bar == null || bar.isIo() || size > bar.size()) {
                continue;
            }
            long base = barAddress(i);
            long offset = address - base;
            // Unsigned: a 64-bit BAR may sit anywhere, up to the top of the 64-bit space.
            if (Long.compareUnsigned(address, base) >= 0 && Long.compareUnsigned(offset, bar.size() - size) <= 0) {
                return new BarHit(i, offset);
            }
        }
        return null;
    }

    /**
     * Which I/O BAR decodes an access of {@code size} bytes at port {@code port}, if any: I/O space must be
     * enabled and the access must lie inside the BAR.
     */
    synchronized BarHit decodeIo(long port, int size) {
        if ((command() & COMMAND_IO) == 0) {
            return null;
        }
        for (int i = 0; i < BAR_COUNT; i++) {
            PciBar bar = bars[i];
            if (bar == null || !bar.isIo() || size > bar.size()) {
                continue;
            }
            long offset = port - barAddress(i);
            if (offset >= 0 && offset <= bar.size() - size) {
                return new BarHit(i, offset);
            }
        }
        return null;
    }

    /** Places BAR {@code index} at {@code address}, as firmware does before the OS runs. */
    synchronized void assignBar(int index, long address) {
        PciBar bar = bar(index).orElseThrow(() -> new IllegalArgumentException("no BAR " + index));
        if ((address & (bar.size() - 1)) != 0) {
            throw new IllegalArgumentException("BAR " + index + " address 0x" + Long.toHexString(address) + " is not aligned to its size");
        }
        barRegisters[index] = (int) address & barMasks[index];
        if (bar.type() == PciBar.Type.MEMORY64) {
            barRegisters[index + 1] = (int) (address >>> 32) & barMasks[index + 1];
        } else if (address >>> 32 != 0) {
            throw new IllegalArgumentException("32-bit BAR " + index + " cannot sit at 0x" + Long.toHexString(address));
        }
    }

    /** Sets command bits, as firmware does (memory space on once the BARs are placed). */
    synchronized void enable(int commandBits) {
        int command = command() | (commandBits & (COMMAND_WRITABLE | (hasIoBar ? COMMAND_IO : 0)));
        putShort(COMMAND, command);
        driveInterruptLine();
    }

    /** The interrupt line register, as firmware fills it with the input the pin is routed to. */
    synchronized void setInterruptLineRegister(int value) {
        header[INTERRUPT_LINE] = (byte) value;
    }

    /** Connects the pin's line; the root complex does this when the device is added. */
    synchronized void connectInterrupt(InterruptLine line) {
        if (pin == InterruptPin.NONE) {
            throw new IllegalStateException("the function has no interrupt pin");
        }
        if (lineLevel) {
            intx.set(false);
            lineLevel = false;
        }
        intx = line;
        driveInterruptLine();
    }

    // ---- INTx, for the device ----

    /**
     * The device requests (true) or withdraws (false) its INTx interrupt, level-triggered: it stays
     * requested until the device withdraws it, typically when the guest has read its interrupt status.
     * The status register shows the request; the line follows it unless the guest set interrupt disable
     * (as Linux does once MSI-X is on). Ignored by a function without an interrupt pin. Any thread.
     */
    public synchronized void setInterrupt(boolean requested) {
        interruptRequested = requested && pin != InterruptPin.NONE;
        driveInterruptLine();
    }

    public synchronized boolean interruptRequested() {
        return interruptRequested;
    }

    private void driveInterruptLine() {
        boolean level = interruptRequested && (command() & COMMAND_INTX_DISABLE) == 0;
        if (level != lineLevel) {
            lineLevel = level;
            intx.set(level);
        }
    }

    // ---- snapshots ----

    @Override
    public void saveState(StateWriter out) {
        synchronized (this) {
            out.putInt("vendorId", shortAt(VENDOR_ID))
                    .putInt("deviceId", shortAt(DEVICE_ID))
                    .putInt("command", command())
                    .putInt("cacheLineSize", header[CACHE_LINE_SIZE] & 0xff)
                    .putInt("interruptLine", header[INTERRUPT_LINE] & 0xff)
                    .putInts("bars", barRegisters.clone())
                    .putBoolean("interruptRequested", interruptRequested);
        }
        // Outside this lock, as every capability call is.
        for (Placed placed : capabilities) {
            StateWriter entry = out.append("capabilities").putInt("offset", placed.offset()).putInt("id", placed.capability().id());
            if (placed.capability() instanceof Snapshottable part) {
                entry.save("state", part);
            }
        }
    }

    /**
     * Restores into a function built the same way (same IDs, BARs and capabilities); drives the INTx line
     * to match the restored request.
     */
    @Override
    public void restoreState(StateReader in) throws SnapshotException {
        expect(in, "vendorId", shortAt(VENDOR_ID));
        expect(in, "deviceId", shortAt(DEVICE_ID));
        int command = in.getInt("command", 0, 0xffff);
        if ((command & ~(COMMAND_WRITABLE | (hasIoBar ? COMMAND_IO : 0))) != 0) {
            throw invalid(in, "command", "0x" + Integer.toHexString(command) + " sets bits the guest cannot set");
        }
        int cacheLineSize = in.getInt("cacheLineSize", 0, 0xff);
        int interruptLine = in.getInt("interruptLine", 0, 0xff);
        int[] registers = in.getInts("bars", BAR_COUNT);
        for (int i = 0; i < BAR_COUNT; i++) {
            if ((registers[i] & ~barMasks[i]) != 0) {
                throw invalid(in, "bars." + i, "0x" + Integer.toHexString(registers[i]) + " is not an address BAR register " + i
                        + " can hold");
            }
        }
        boolean requested = in.getBoolean("interruptRequested");
        if (requested && pin == InterruptPin.NONE) {
            throw invalid(in, "interruptRequested", "is true for a function without an interrupt pin");
        }
        // A function without capabilities wrote no list (a tree has no empty lists).
        List<StateReader> entries = capabilities.isEmpty() ? List.of() : in.list("capabilities", capabilities.size());
        if (entries.size() != capabilities.size()) {
            throw invalid(in, "capabilities", "has " + entries.size() + " entries, but the function has " + capabilities.size());
        }
        for (int i = 0; i < entries.size(); i++) {
            Placed placed = capabilities.get(i);
            expect(entries.get(i), "offset", placed.offset());
            expect(entries.get(i), "id", placed.capability().id());
        }
        synchronized (this) {
            putShort(COMMAND, command);
            header[CACHE_LINE_SIZE] = (byte) cacheLineSize;
            header[INTERRUPT_LINE] = (byte) interruptLine;
            System.arraycopy(registers, 0, barRegisters, 0, BAR_COUNT);
            interruptRequested = requested;
            driveInterruptLine();
        }
        for (int i = 0; i < entries.size(); i++) {
            if (capabilities.get(i).capability() instanceof Snapshottable part) {
                entries.get(i).restore("state", part);
            }
        }
    }

    private int shortAt(int offset) {
        return (header[offset] & 0xff) | (header[offset + 1] & 0xff) << 8;
    }

    private static void expect(StateReader in, String key, int expected) throws SnapshotException {
        int value = in.getInt(key);
        if (value != expected) {
            throw invalid(in, key, "is 0x" + Integer.toHexString(value) + ", but this function has 0x" + Integer.toHexString(expected));
        }
    }

    static SnapshotException invalid(StateReader in, String key, String problem) {
        return new SnapshotException("snapshot field " + (in.path().isEmpty() ? key : in.path() + "." + key) + " " + problem);
    }

    /** How a device declares its header, BARs, interrupt pin and capabilities. */
    public static final class Builder {
        private final int vendorId;
        private final int deviceId;
        private int baseClass;
        private int subClass;
        private int progIf;
        private int revision;
        private int subsystemVendorId;
        private int subsystemId;
        private InterruptPin pin = InterruptPin.NONE;
        private final PciBar[] bars = new PciBar[BAR_COUNT];
        private final boolean[] registerTaken = new boolean[BAR_COUNT];
        private final List<Placed> placed = new ArrayList<>();
        private int nextCapability = FIRST_CAPABILITY;

        private Builder(int vendorId, int deviceId) {
            // 0xffff reads as "no device" and Linux also takes vendor 0x0000 for an empty slot.
            if (vendorId <= 0 || vendorId >= 0xffff) {
                throw new IllegalArgumentException("invalid vendor ID 0x" + Integer.toHexString(vendorId));
            }
            this.vendorId = vendorId;
            this.deviceId = u16(deviceId, "device ID");
        }

        /** Base class, subclass and programming interface (PCI Code and ID Assignment spec). */
        public Builder classCode(int baseClass, int subClass, int progIf) {
            this.baseClass = u8(baseClass, "base class");
            this.subClass = u8(subClass, "subclass");
            this.progIf = u8(progIf, "programming interface");
            return this;
        }

        public Builder revision(int revision) {
            this.revision = u8(revision, "revision");
            return this;
        }

        public Builder subsystem(int vendorId, int id) {
            this.subsystemVendorId = u16(vendorId, "subsystem vendor ID");
            this.subsystemId = u16(id, "subsystem ID");
            return this;
        }

        public Builder interruptPin(InterruptPin pin) {
            this.pin = pin;
            return this;
        }

        /** Declares BAR {@code index} (0-5); a 64-bit BAR also takes register {@code index + 1}. */
        public Builder bar(int index, PciBar bar) {
            if (index < 0 || index + bar.registers() > BAR_COUNT) {
                throw new IllegalArgumentException("BAR " + index + " does not fit in the six BAR registers");
            }
            for (int i = index; i < index + bar.registers(); i++) {
                if (registerTaken[i]) {
                    throw new IllegalArgumentException("BAR register " + i + " is taken");
                }
            }
            for (int i = index; i < index + bar.registers(); i++) {
                registerTaken[i] = true;
            }
            bars[index] = bar;
            return this;
        }

        /** Appends a capability to the list; {@link MsixCapability} must name BARs declared before it. */
        public Builder capability(PciCapability capability) {
            int length = capability.length();
            if (length < 2 || nextCapability + length > CONVENTIONAL_SIZE) {
                throw new IllegalArgumentException("capability of " + length + " bytes does not fit in config space");
            }
            if (capability instanceof MsixCapability msix) {
                msix.checkFits(index -> Optional.ofNullable(bars[index]));
            }
            placed.add(new Placed(nextCapability, capability));
            nextCapability = (nextCapability + length + 3) & ~3;
            return this;
        }

        public PciConfigSpace build() {
            return new PciConfigSpace(this);
        }

        private static int u8(int value, String what) {
            if (value < 0 || value > 0xff) {
                throw new IllegalArgumentException(what + " out of range: " + value);
            }
            return value;
        }

        private static int u16(int value, String what) {
            if (value < 0 || value > 0xffff) {
                throw new IllegalArgumentException(what + " out of range: " + value);
            }
            return value;
        }
    }
}
