package io.vmguard.virtio.pci;

import io.vmguard.bus.Bus;
import io.vmguard.memory.GuestMemory;
import io.vmguard.pci.MsixCapability;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioFeatures;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * The fuzz test's guest: one random step at a time at a virtio-pci function, through every door a guest
 * has. Config space: the command register (bus mastering on and off), BAR registers, MSI-X message
 * control, the pci_cfg window and any other byte. The BAR: as the root decodes it at whatever address the
 * guest programmed, straight into the function at any in-BAR offset (what a root delivers when the BAR is
 * elsewhere), and through the pci_cfg window. Guest RAM: random descriptors and indices in the rings a
 * partial set-up points the queue at.
 *
 * <p>Addresses the driver gives the device lie in a scratch area, outside RAM, or at the top of the 64-bit
 * space, never in RAM the test's by-the-book driver allocates later, so the device's writes cannot leave
 * stale rings for it. A step writes device_status 0 at most once, and only a set-up writes non-zero values
 * after that ({@link #lastStepSetUpAfterReset}), so the test knows what status a reset must leave.
 */
final class HostilePciDriver {
    /** The scratch area: a queue of {@link #RING_SIZE} at fixed places, buffers behind them. */
    static final long SCRATCH_BYTES = 0x10000;
    private static final int RING_SIZE = 8;
    private static final long DESCRIPTORS = 0x0;
    private static final long AVAIL = 0x100;
    private static final long USED = 0x200;
    private static final long BUFFERS = 0x1000;
    private static final int[] COMMON_FIELDS = {CommonConfig.DEVICE_FEATURE_SELECT, CommonConfig.DEVICE_FEATURE,
            CommonConfig.DRIVER_FEATURE_SELECT, CommonConfig.DRIVER_FEATURE, CommonConfig.MSIX_CONFIG, CommonConfig.NUM_QUEUES,
            CommonConfig.DEVICE_STATUS, CommonConfig.CONFIG_GENERATION, CommonConfig.QUEUE_SELECT, CommonConfig.QUEUE_SIZE,
            CommonConfig.QUEUE_MSIX_VECTOR, CommonConfig.QUEUE_ENABLE, CommonConfig.QUEUE_NOTIFY_OFF, CommonConfig.QUEUE_DESC_LO,
            CommonConfig.QUEUE_DESC_HI, CommonConfig.QUEUE_DRIVER_LO, CommonConfig.QUEUE_DRIVER_HI, CommonConfig.QUEUE_DEVICE_LO,
            CommonConfig.QUEUE_DEVICE_HI, CommonConfig.QUEUE_NOTIFY_DATA, CommonConfig.QUEUE_RESET};
    private static final int[] WIDTHS = {1, 2, 4, 8};
    private static final long MSI_ADDRESS = 0xfee0_0000L;

    private final Random random;
    private final VirtioPciTransport transport;
    private final Bus mmio;
    private final GuestMemory memory;
    private final long scratch;
    private final long outside;
    private final long originalBar;
    private final int window;
    private final int msix;
    private boolean setUpAfterReset;

    HostilePciDriver(Random random, VirtioPciTransport transport, Bus mmio, GuestRam ram) {
        this.random = random;
        this.transport = transport;
        this.mmio = mmio;
        this.memory = ram.memory();
        this.scratch = ram.alloc(SCRATCH_BYTES);
        this.outside = ram.outside();
        this.originalBar = transport.config().barAddress(BarLayout.BAR);
        ModernDriver probe = new ModernDriver(transport);
        this.window = probe.capability(VirtioCapabilities.PCI_CFG).position();
        this.msix = probe.msixPosition();
    }

    /** One random step; returns what it did, for the failure message. */
    String step() {
        setUpAfterReset = false;
        return switch (random.nextInt(20)) {
            case 0, 1 -> command();
            case 2 -> barRegister();
            case 3 -> msixControl();
            case 4 -> configAnywhere();
            case 5, 6, 7, 8, 9 -> commonField();
            case 10 -> reset();
            case 11 -> "ISR read " + bar(BarLayout.ISR, random.nextInt(4) == 0 ? width() : 1, 0, false);
            case 12 -> deviceConfig();
            case 13, 14 -> kick();
            case 15 -> msixTable();
            case 16 -> "BAR anywhere " + barAnywhere();
            case 17 -> scribble();
            default -> partialSetUp();
        };
    }

    // ---- config space ----

    private String command() {
        int bits = random.nextInt(8) == 0 ? random.nextInt(0x10000)
                : (random.nextBoolean() ? PciConfigSpace.COMMAND_MEMORY : 0) | (random.nextInt(3) != 0 ? PciConfigSpace.COMMAND_BUS_MASTER : 0)
                        | (random.nextInt(4) == 0 ? PciConfigSpace.COMMAND_INTX_DISABLE : 0);
        int size = random.nextInt(4) == 0 ? 1 << random.nextInt(3) : 2;
        transport.writeConfig(PciConfigSpace.COMMAND, size, bits);
        return "command " + size + "@0x" + Integer.toHexString(bits);
    }

    /** Mostly BAR0: the size probe, zero, back home, elsewhere in the window, anything. */
    private String barRegister() {
        int register = random.nextInt(4) == 0 ? random.nextInt(PciConfigSpace.BAR_COUNT) : BarLayout.BAR;
        int value = switch (random.nextInt(5)) {
            case 0 -> 0xffff_ffff;
            case 1 -> 0;
            case 2, 3 -> (int) originalBar + (random.nextInt(4) == 0 ? random.nextInt(16) * 0x8000 : 0);
            default -> random.nextInt();
        };
        transport.writeConfig(PciConfigSpace.BAR0 + 4 * register, 4, value);
        return "BAR" + register + " = 0x" + Integer.toHexString(value);
    }

    private String msixControl() {
        int value = random.nextInt(4) == 0 ? random.nextInt()
                : (random.nextBoolean() ? MsixCapability.CONTROL_ENABLE : 0) | (random.nextInt(3) == 0 ? MsixCapability.CONTROL_FUNCTION_MASK : 0);
        int at = random.nextInt(4) == 0 ? msix + random.nextInt(4) : msix + 2;
        int size = at == msix + 2 ? 2 : 1;
        transport.writeConfig(at, size, value);
        return "MSI-X control " + size + "@" + at + " = 0x" + Integer.toHexString(value);
    }

    /** Any byte of config space, the pci_cfg window's (and so, maybe, a BAR access) included. */
    private String configAnywhere() {
        int size = 1 + random.nextInt(4);
        int offset = random.nextInt(4) == 0 ? window + random.nextInt(PciConfigWindow.LENGTH) : random.nextInt(PciConfigSpace.SIZE);
        offset = Math.min(offset, PciConfigSpace.SIZE - size);
        if (random.nextBoolean()) {
            transport.readConfig(offset, size);
            return "config read " + size + "@0x" + Integer.toHexString(offset);
        }
        int value = random.nextInt();
        transport.writeConfig(offset, size, value);
        return "config write " + size + "@0x" + Integer.toHexString(offset) + " = 0x" + Integer.toHexString(value);
    }

    // ---- the BAR's structures ----

    /** A common config field at its width mostly, else at any width or a random offset inside the structure. */
    private String commonField() {
        int field = COMMON_FIELDS[random.nextInt(COMMON_FIELDS.length)];
        int naturalWidth = field >= CommonConfig.QUEUE_DESC_LO && field <= CommonConfig.QUEUE_DEVICE_HI || field < CommonConfig.MSIX_CONFIG
                ? 4 : field == CommonConfig.DEVICE_STATUS || field == CommonConfig.CONFIG_GENERATION ? 1 : 2;
        int size = random.nextInt(5) == 0 ? width() : naturalWidth;
        long offset = random.nextInt(8) == 0 ? random.nextInt(CommonConfig.LENGTH) : field;
        boolean write = random.nextInt(3) != 0;
        long value = write ? valueFor((int) offset) : 0;
        return "common " + (write ? "write " : "read ") + bar(BarLayout.COMMON + offset, size, value, write);
    }

    /** Values that probe each field's edges: out-of-range selectors, odd sizes, addresses outside RAM. */
    private long valueFor(int field) {
        return switch (field) {
            case CommonConfig.DEVICE_STATUS -> switch (random.nextInt(4)) {
                case 0 -> random.nextInt(256);
                // Fewer bits than it has (not 0, so no reset), or only the device's NEEDS_RESET.
                case 1 -> random.nextBoolean() ? DeviceStatus.DEVICE_NEEDS_RESET : transport.control().status() & random.nextInt(256);
                default -> 1 << random.nextInt(8) | random.nextInt(16);
            };
            case CommonConfig.QUEUE_SELECT -> pick(0, 0, 1, 2, 0xffff, random.nextInt());
            case CommonConfig.QUEUE_SIZE -> pick(0, 1, 3, 8, 100, 256, 512, 1 << 15, 0xffff, random.nextInt());
            case CommonConfig.MSIX_CONFIG, CommonConfig.QUEUE_MSIX_VECTOR -> pick(0, 1, 2, 3, 0xffff, random.nextInt());
            case CommonConfig.QUEUE_DESC_LO, CommonConfig.QUEUE_DRIVER_LO, CommonConfig.QUEUE_DEVICE_LO -> address() & 0xffff_ffffL;
            case CommonConfig.QUEUE_DESC_HI, CommonConfig.QUEUE_DRIVER_HI, CommonConfig.QUEUE_DEVICE_HI -> pick(0, 0, 0, 1, 0xffff_ffffL, random.nextInt());
            case CommonConfig.DEVICE_FEATURE_SELECT, CommonConfig.DRIVER_FEATURE_SELECT -> pick(0, 1, 2, 0xffff_ffffL, random.nextInt());
            case CommonConfig.DRIVER_FEATURE -> random.nextBoolean() ? random.nextInt() : pick(0, 1, 0x3000_0000L);
            default -> random.nextInt(4) == 0 ? random.nextLong() : random.nextInt(4);
        };
    }

    /** A ring address: in the scratch area (aligned or not), just past RAM, or anywhere from 2 GiB up. */
    private long address() {
        return switch (random.nextInt(4)) {
            case 0 -> scratch + random.nextInt((int) SCRATCH_BYTES);
            case 1 -> scratch + (random.nextInt((int) SCRATCH_BYTES) & ~15);
            case 2 -> outside + (random.nextInt(0x1000) & ~15);
            default -> random.nextInt() & 0xffff_ffffL | 0x8000_0000L;
        };
    }

    private String reset() {
        return "reset " + bar(BarLayout.COMMON + CommonConfig.DEVICE_STATUS, 1, 0, true);
    }

    private String deviceConfig() {
        int size = width();
        long offset = random.nextInt((int) BarLayout.DEVICE_CONFIG_LENGTH - size + 1);
        boolean write = random.nextBoolean();
        return "device config " + (write ? "write " : "read ") + bar(BarLayout.DEVICE_CONFIG + offset, size, random.nextLong(), write);
    }

    /** Queue 0's notification address as Linux writes it, mostly; else any width anywhere on the page. */
    private String kick() {
        if (random.nextInt(4) == 0) {
            int size = width();
            return "notify " + bar(BarLayout.NOTIFY + random.nextInt(0x1000 - size + 1), size, random.nextInt(4), true);
        }
        int queue = random.nextInt(8) == 0 ? 1 + random.nextInt(4) : 0;
        return "kick " + bar(BarLayout.NOTIFY + (long) queue * BarLayout.NOTIFY_OFF_MULTIPLIER, 2, queue, true);
    }

    /** A table entry's words (vector control: masked or not) or the read-only PBA. */
    private String msixTable() {
        boolean pba = random.nextInt(4) == 0;
        long base = pba ? BarLayout.MSIX_PBA : BarLayout.MSIX_TABLE;
        long offset = base + random.nextInt(pba ? 16 : 4 * MsixCapability.ENTRY_SIZE);
        int size = width();
        offset -= offset % size;
        long value = switch ((int) (offset % MsixCapability.ENTRY_SIZE) / 4) {
            case 0 -> MSI_ADDRESS;
            case 3 -> random.nextInt(3) == 0 ? MsixCapability.VECTOR_MASKED : 0;
            default -> random.nextInt(0x100);
        };
        boolean write = random.nextInt(4) != 0;
        return "MSI-X " + (write ? "write " : "read ") + bar(offset, size, value, write);
    }

    private String barAnywhere() {
        int size = width();
        long offset = random.nextInt((int) BarLayout.BAR_SIZE - size + 1);
        boolean write = random.nextBoolean();
        return (write ? "write " : "read ") + bar(offset, size, random.nextLong(), write);
    }

    /**
     * One BAR access by one of the guest's three ways: the bus at the BAR's address now (lost when memory
     * space is off or the BAR was moved out of the window), the function straight (sometimes at a BAR it
     * lacks), or the pci_cfg window (which makes 8-byte and unaligned accesses inert).
     */
    private String bar(long offset, int size, long value, boolean write) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        for (int i = 0; i < size; i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
        String what = size + "@0x" + Long.toHexString(offset) + (write ? " = 0x" + Long.toHexString(value) : "");
        switch (random.nextInt(5)) {
            case 0, 1 -> {
                long address = transport.config().barAddress(BarLayout.BAR) + offset;
                if (write) {
                    mmio.write(address, data);
                } else {
                    mmio.read(address, data);
                }
                return what + " via the bus";
            }
            case 2, 3 -> {
                int bar = random.nextInt(8) == 0 ? random.nextInt(PciConfigSpace.BAR_COUNT) : BarLayout.BAR;
                if (write) {
                    transport.writeBar(bar, offset, data);
                } else {
                    transport.readBar(bar, offset, data);
                }
                return what + " straight to BAR " + bar;
            }
            default -> {
                transport.writeConfig(window + 4, 1, BarLayout.BAR);
                transport.writeConfig(window + 8, 4, (int) offset);
                transport.writeConfig(window + 12, 4, size);
                int dataSize = Math.min(size, 4);
                if (write) {
                    transport.writeConfig(window + PciConfigWindow.DATA, dataSize, (int) value);
                } else {
                    transport.readConfig(window + PciConfigWindow.DATA, dataSize);
                }
                return what + " via pci_cfg";
            }
        }
    }

    // ---- guest RAM ----

    /** Random descriptors, ring entries and indices in the scratch queue, for kicks to find. */
    private String scribble() {
        long at;
        switch (random.nextInt(4)) {
            case 0 -> {
                int index = random.nextInt(RING_SIZE);
                at = scratch + DESCRIPTORS + 16L * index;
                long address = random.nextInt(4) == 0 ? address() : scratch + BUFFERS + random.nextInt((int) (SCRATCH_BYTES - BUFFERS));
                int length = random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(0x200);
                memory.writeLong(at, address);
                memory.writeInt(at + 8, length);
                memory.writeShort(at + 12, (short) random.nextInt(8));
                memory.writeShort(at + 14, (short) (random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(RING_SIZE)));
            }
            case 1 -> {
                at = scratch + AVAIL + 4 + 2L * random.nextInt(RING_SIZE);
                memory.writeShort(at, (short) (random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(RING_SIZE)));
            }
            case 2 -> {
                at = scratch + AVAIL + 2 * random.nextInt(2); // flags or idx
                memory.writeShort(at, (short) (random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(4)));
            }
            default -> {
                at = scratch + random.nextInt((int) SCRATCH_BYTES - 8);
                memory.writeLong(at, random.nextLong());
            }
        }
        return "RAM scribble at 0x" + Long.toHexString(at);
    }

    // ---- a driver that goes part of the way ----

    /**
     * A driver's set-up with the scratch queue, mostly whole, from a reset or from wherever the device is:
     * so kicks often meet a running device whose rings the scribbles then corrupt.
     */
    private String partialSetUp() {
        int steps = random.nextInt(3) == 0 ? 1 + random.nextInt(11) : 11;
        setUpAfterReset = random.nextBoolean();
        for (int i = setUpAfterReset ? 0 : 1; i < steps; i++) {
            switch (i) {
                case 0 -> status(0);
                case 1 -> transport.writeConfig(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
                case 2 -> status(DeviceStatus.ACKNOWLEDGE);
                case 3 -> status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
                case 4 -> {
                    common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 1);
                    common(CommonConfig.DRIVER_FEATURE, 4, VirtioFeatures.VERSION_1 >>> 32);
                    common(CommonConfig.DRIVER_FEATURE_SELECT, 4, 0);
                    common(CommonConfig.DRIVER_FEATURE, 4, random.nextBoolean() ? VirtioFeatures.RING_EVENT_IDX | VirtioFeatures.RING_INDIRECT_DESC : 0);
                }
                case 5 -> status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
                case 6 -> {
                    common(CommonConfig.QUEUE_SELECT, 2, 0);
                    common(CommonConfig.QUEUE_SIZE, 2, random.nextInt(4) == 0 ? valueFor(CommonConfig.QUEUE_SIZE) : RING_SIZE);
                }
                case 7 -> {
                    boolean sane = random.nextInt(4) != 0;
                    queueAddress(CommonConfig.QUEUE_DESC_LO, sane ? scratch + DESCRIPTORS : address());
                    queueAddress(CommonConfig.QUEUE_DRIVER_LO, sane ? scratch + AVAIL : address());
                    queueAddress(CommonConfig.QUEUE_DEVICE_LO, sane ? scratch + USED : address());
                }
                case 8 -> common(CommonConfig.QUEUE_MSIX_VECTOR, 2, valueFor(CommonConfig.QUEUE_MSIX_VECTOR));
                case 9 -> common(CommonConfig.QUEUE_ENABLE, 2, 1);
                default -> status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
            }
        }
        return (setUpAfterReset ? "reset and " : "") + "set-up to step " + steps;
    }

    /** Whether the last step reset the device and then went on setting it up (so its status need not be 0). */
    boolean lastStepSetUpAfterReset() {
        return setUpAfterReset;
    }

    private void status(int value) {
        common(CommonConfig.DEVICE_STATUS, 1, value);
    }

    private void queueAddress(int lowField, long address) {
        common(lowField, 4, address & 0xffff_ffffL);
        common(lowField + 4, 4, address >>> 32);
    }

    private void common(int field, int size, long value) {
        bar(BarLayout.COMMON + field, size, value, true);
    }

    private int width() {
        return WIDTHS[random.nextInt(WIDTHS.length)];
    }

    private long pick(long... values) {
        return values[random.nextInt(values.length)];
    }
}
