package io.vmguard.pci;

import io.vmguard.testing.GuestAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.testing.FuzzSeeds;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random guest traffic at the PCI root: 1/2/4-byte configuration reads and writes at random offsets
 * through 0xCF8/0xCFC and ECAM (8-byte ones too), BARs programmed to random values, MSI-X control, table
 * and PBA writes with random masks, and the device signalling random vectors. After every step: nothing
 * threw, the read-only header fields and capability links are unchanged, every BAR keeps its size mask
 * and flags, and no message was ever sent for a masked vector.
 */
class PciConfigFuzzTest {
    private static final int STEPS_PER_SEED = FuzzSeeds.scaled(20_000);
    private static final int VECTORS = 70;
    private static final int MSIX_BAR = 2;
    private static final long TABLE = 0x0;
    private static final long PBA = 0x800;
    private static final int[] SIZES = {1, 2, 4};

    private final Bus io = new Bus("io");
    private final Bus mmio = new Bus("mmio");
    private MsixCapability msix;
    private PciConfigSpace config;
    private final PciBar[] bars = {PciBar.memory32(0x1000), null, PciBar.memory64(0x4000), null, PciBar.memory64(1L << 20).asPrefetchable(), null};
    private int[] readOnly;
    private int messages;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomConfigBarAndMsixTrafficKeepsTheReadOnlyFieldsMasksAndVectorMasks(long seed) {
        Random random = new Random(seed);
        msix = new MsixCapability(VECTORS, MSIX_BAR, TABLE, MSIX_BAR, PBA, this::checkedSignal);
        PciConfigSpace.Builder builder = PciConfigSpace.builder(0x1af4, 0x1041).classCode(0x01, 0x00, 0x00).revision(1)
                .subsystem(0x1af4, 0x0002).interruptPin(InterruptPin.INTA);
        for (int i = 0; i < bars.length; i++) {
            if (bars[i] != null) {
                builder.bar(i, bars[i]);
            }
        }
        config = builder.capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[] {14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}))
                .capability(msix).capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[] {4, 9})).build();
        PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> fail("the device's sink is the checked one"));
        root.registerOn(io, mmio);
        root.add(new TestPciDevice(config, msix));
        readOnly = readOnlyBytes();

        for (int step = 0; step < STEPS_PER_SEED; step++) {
            String where = "seed " + seed + " step " + step + " " + FuzzSeeds.reproduce(seed);
            try {
                randomStep(random);
            } catch (RuntimeException | AssertionError e) {
                throw new AssertionError(where, e);
            }
            if (step % 16 == 0) {
                checkInvariants(where);
            }
        }
        checkInvariants("seed " + seed + " at the end");
        assertTrue(messages > 0, "the traffic never got a message out: the vector-mask check proved nothing");
    }

    private void randomStep(Random random) {
        int size = SIZES[random.nextInt(3)];
        switch (random.nextInt(10)) {
            case 0, 1 -> { // mechanism 1: address register, then a data port
                int slot = random.nextInt(4) == 0 ? random.nextInt(32) : 1;
                int function = random.nextInt(8) == 0 ? random.nextInt(8) : 0;
                int address = (random.nextInt(8) == 0 ? random.nextInt() : 0x8000_0000) | slot << 11 | function << 8 | random.nextInt(256);
                out(0xcf8, 4, address);
                long port = 0xcfc + random.nextInt(4);
                if (port + size <= 0xd00) {
                    if (random.nextBoolean()) {
                        out(port, size, random.nextInt());
                    } else {
                        in(port, size);
                    }
                }
            }
            case 2 -> out(0xcf8 + random.nextInt(8), 1, random.nextInt()); // stray writes at the ports
            case 3, 4 -> { // ECAM, up to 8 bytes, anywhere in a few functions' 4 KiB
                int width = random.nextInt(5) == 0 ? 8 : size;
                long address = X86Layout.PCI_ECAM + ((long) random.nextInt(3) << 15) + random.nextInt(4096 - width + 1);
                if (random.nextBoolean()) {
                    store(address, width, random.nextLong());
                } else {
                    load(address, width);
                }
            }
            case 5 -> { // BAR registers: all ones (the size probe), zero, random, or a window address
                int register = PciConfigSpace.BAR0 + 4 * random.nextInt(PciConfigSpace.BAR_COUNT);
                long value = switch (random.nextInt(4)) {
                    case 0 -> 0xffff_ffffL;
                    case 1 -> 0;
                    case 2 -> X86Layout.PCI_MMIO_WINDOW + (random.nextInt(0x1000) << 16);
                    default -> random.nextInt() & 0xffff_ffffL;
                };
                store(ecam(register), 4, value);
            }
            case 6 -> { // MSI-X message control: enable and function mask at random; command register too
                store(ecam(msixCapability() + 2), 2, random.nextInt() & 0xc000 | random.nextInt(0x800));
                if (random.nextInt(4) == 0) {
                    store(ecam(PciConfigSpace.COMMAND), 2, random.nextInt(0x10000));
                }
            }
            case 7, 8 -> { // the table and PBA, through the BAR window when the BAR is there, else directly
                long offset = random.nextBoolean() ? TABLE + random.nextInt((int) MsixCapability.tableBytes(VECTORS))
                        : PBA + random.nextInt((int) MsixCapability.pbaBytes(VECTORS) + 8);
                int width = random.nextInt(5) == 0 ? 8 : size;
                long value = random.nextInt(3) == 0 ? random.nextInt(2) : random.nextLong();
                MemorySegment data = MemorySegment.ofArray(new byte[width]);
                Bytes.store(data, value);
                long base = config.barAddress(MSIX_BAR);
                if (random.nextBoolean() && config.memorySpaceEnabled()) {
                    mmio.write(base + offset, data);
                } else if (random.nextBoolean()) {
                    msix.writeBar(MSIX_BAR, offset, data);
                } else {
                    msix.readBar(MSIX_BAR, offset, data);
                }
            }
            default -> msix.signal(random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(VECTORS));
        }
    }

    /** The sink: a message may only leave for an unmasked vector of an enabled, unmasked function. */
    private void checkedSignal(long address, int data) {
        assertTrue(msix.enabled(), "message while MSI-X is disabled");
        assertTrue(!msix.functionMasked(), "message while the function is masked");
        boolean unmaskedMatch = false;
        for (int vector = 0; vector < VECTORS; vector++) {
            MemorySegment entry = MemorySegment.ofArray(new byte[16]);
            msix.readBar(MSIX_BAR, TABLE + 16L * vector, entry);
            long entryAddress = Bytes.load(entry.asSlice(0, 8));
            int entryData = (int) Bytes.load(entry.asSlice(8, 4));
            boolean masked = (Bytes.load(entry.asSlice(12, 4)) & MsixCapability.VECTOR_MASKED) != 0;
            unmaskedMatch |= !masked && entryAddress == address && entryData == data;
        }
        messages++;
        assertTrue(unmaskedMatch, "message 0x" + Long.toHexString(address) + "/" + data + " from no unmasked vector");
    }

    private void checkInvariants(String where) {
        assertEquals(java.util.Arrays.toString(readOnly), java.util.Arrays.toString(readOnlyBytes()), "read-only bytes, " + where);
        for (int i = 0; i < bars.length; i++) {
            if (bars[i] == null) {
                continue;
            }
            long low = load(ecam(PciConfigSpace.BAR0 + 4 * i), 4);
            int flags = bars[i].flags();
            assertEquals(flags, low & 0xf, "BAR " + i + " flags, " + where);
            long address = config.barAddress(i);
            assertEquals(0, address & (bars[i].size() - 1), "BAR " + i + " at 0x" + Long.toHexString(address) + ", " + where);
        }
        for (int vector = 0; vector < VECTORS; vector++) { // reserved vector-control bits stay 0
            MemorySegment control = MemorySegment.ofArray(new byte[4]);
            msix.readBar(MSIX_BAR, TABLE + 16L * vector + 12, control);
            assertEquals(0, Bytes.load(control) & ~1L, "vector " + vector + " control, " + where);
        }
    }

    /** IDs, revision, class, header type, subsystem, capabilities pointer, interrupt pin, capability links and MSI-X locations. */
    private int[] readOnlyBytes() {
        int msixAt = msixCapability();
        int[] offsets = {0, 1, 2, 3, 8, 9, 10, 11, 0x0e, 0x2c, 0x2d, 0x2e, 0x2f, PciConfigSpace.CAPABILITIES_POINTER,
                PciConfigSpace.INTERRUPT_PIN, 0x40, 0x41, 0x42, 0x43, msixAt, msixAt + 1, msixAt + 2, msixAt + 4, msixAt + 5,
                msixAt + 8, msixAt + 9, msixAt + 12, msixAt + 13, 0x100, 0x104};
        int[] values = new int[offsets.length + 1];
        for (int i = 0; i < offsets.length; i++) {
            values[i] = (int) load(ecam(offsets[i]), 1);
        }
        values[offsets.length] = (int) load(ecam(msixAt + 2), 2) & 0x7ff; // table size
        return values;
    }

    private int msixCapability() {
        int at = (int) load(ecam(PciConfigSpace.CAPABILITIES_POINTER), 1);
        return (int) load(ecam(at + 1), 1); // the second capability
    }

    private static long ecam(int register) {
        return X86Layout.PCI_ECAM + (1L << 15) + register;
    }

    private long in(long port, int size) {
        return GuestAccess.read(io, port, size);
    }

    private void out(long port, int size, long value) {
        GuestAccess.write(io, port, size, value);
    }

    private long load(long address, int size) {
        return GuestAccess.read(mmio, address, size);
    }

    private void store(long address, int size, long value) {
        GuestAccess.write(mmio, address, size, value);
    }
}
