package io.vmguard.pci;

import io.vmguard.testing.GuestAccess;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingLine;
import io.vmguard.arch.x86.PciInterruptRouting;
import io.vmguard.arch.x86.X86Layout;
import io.vmguard.bus.Bus;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The root complex through the guest's eyes, on real buses: configuration mechanism 1 and ECAM, the
 * host bridge, firmware-like BAR and interrupt assignment, and BAR decoding in the MMIO window.
 */
class PciRootTest {
    private static final long WINDOW = X86Layout.PCI_MMIO_WINDOW;

    private final RecordingLine[] gsis = new RecordingLine[X86Layout.GSI_COUNT];
    private final RecordingMsiSink msi = new RecordingMsiSink();
    private final PciRoot root;
    private final Bus io = new Bus("io");
    private final Bus mmio = new Bus("mmio");

    PciRootTest() {
        for (int i = 0; i < gsis.length; i++) {
            gsis[i] = new RecordingLine();
        }
        root = new PciRoot(gsi -> gsis[gsi], msi);
        root.registerOn(io, mmio);
    }

    // ---- guest accesses ----

    private long in(long port, int size) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        assertTrue(io.read(port, data), "port 0x" + Long.toHexString(port));
        return Bytes.load(data);
    }

    private void out(long port, int size, long value) {
        MemorySegment data = MemorySegment.ofArray(new byte[size]);
        Bytes.store(data, value);
        assertTrue(io.write(port, data), "port 0x" + Long.toHexString(port));
    }

    private long load(long address, int size) {
        return GuestAccess.read(mmio, address, size);
    }

    private void store(long address, int size, long value) {
        GuestAccess.write(mmio, address, size, value);
    }

    /** Linux's pci_conf1_read: the address register, then the data port the register's low bits select. */
    private long cf8Read(int bus, int device, int function, int register, int size) {
        out(0xcf8, 4, 0x8000_0000L | bus << 16 | device << 11 | function << 8 | (register & 0xfc));
        return in(0xcfc + (register & 3), size);
    }

    private void cf8Write(int bus, int device, int function, int register, int size, long value) {
        out(0xcf8, 4, 0x8000_0000L | bus << 16 | device << 11 | function << 8 | (register & 0xfc));
        out(0xcfc + (register & 3), size, value);
    }

    private static long ecam(int bus, int device, int function, int register) {
        return X86Layout.PCI_ECAM + ((long) bus << 20 | device << 15 | function << 12 | register);
    }

    private static TestPciDevice device(InterruptPin pin, PciBar... bars) {
        PciConfigSpace.Builder builder = PciConfigSpace.builder(0x1b36, 0x0005).classCode(0xff, 0, 0).interruptPin(pin);
        int register = 0;
        for (PciBar bar : bars) {
            builder.bar(register, bar);
            register += bar.registers();
        }
        return new TestPciDevice(builder.build());
    }

    // ---- tests ----

    @Test
    void theHostBridgeIsFunction00_0OfClassHostBridge() {
        assertEquals(0x0008_1b36L, cf8Read(0, 0, 0, 0x00, 4));
        assertEquals(0x0600_0000L, cf8Read(0, 0, 0, 0x08, 4), "class 06 00 00, revision 0");
        assertEquals(0x0600L, cf8Read(0, 0, 0, 0x0a, 2), "the word Linux's mechanism-1 sanity check reads");
        assertEquals(0x00L, cf8Read(0, 0, 0, 0x0e, 1), "type 0 header, single function");
        assertEquals(0L, cf8Read(0, 0, 0, 0x10, 4), "no BARs");
        assertEquals(0L, cf8Read(0, 0, 0, 0x3c, 4), "no interrupt pin");
    }

    @Test
    void theAddressRegisterReadsBackAsLinuxsProbeExpects() {
        // arch/x86/pci/direct.c, pci_check_type1
        out(0xcfb, 1, 0x01);
        long saved = in(0xcf8, 4);
        out(0xcf8, 4, 0x8000_0000L);
        assertEquals(0x8000_0000L, in(0xcf8, 4));
        out(0xcf8, 4, saved);
        assertEquals(0L, saved, "the byte write at 0xCFB (mechanism 2's register) changed nothing");

        out(0xcf8, 4, 0xffff_ffffL);
        assertEquals(0x80ff_fffcL, in(0xcf8, 4), "reserved bits 30:24 and bits 1:0 read 0");
        assertEquals(0xffL, in(0xcf8, 1), "only a dword access reaches the address register");
        assertEquals(0xffffL, in(0xcfa, 2));
    }

    @Test
    void absentFunctionsReadAllOnesAndTakeWritesWithoutEffect() {
        for (int[] f : new int[][] {{0, 7, 0}, {0, 0, 1}, {1, 0, 0}, {0, 31, 7}}) {
            for (int size : new int[] {1, 2, 4}) {
                long ones = (1L << (8 * size)) - 1;
                assertEquals(ones, cf8Read(f[0], f[1], f[2], 0, size));
                assertEquals(ones, cf8Read(f[0], f[1], f[2], 0x3c, size));
                cf8Write(f[0], f[1], f[2], 0x04, size, 0);
                if (f[0] == 0) { // ECAM covers bus 0 only (X86Layout.PCI_LAST_BUS)
                    assertEquals(ones, load(ecam(f[0], f[1], f[2], 0), size));
                    store(ecam(f[0], f[1], f[2], 0x04), size, 0);
                }
            }
        }
        out(0xcf8, 4, 0x0000_0000L); // enable bit clear: the data ports are no configuration access
        assertEquals(0xffff_ffffL, in(0xcfc, 4));
        out(0xcfc, 4, 0);
        assertEquals(0x0008_1b36L, cf8Read(0, 0, 0, 0, 4));
    }

    @Test
    void portsAndEcamShowTheSameConfigurationSpaces() {
        root.add(device(InterruptPin.INTA, PciBar.memory32(0x1000), PciBar.memory64(0x4000)));
        for (int slot = 0; slot < 3; slot++) {
            for (int register = 0; register < PciConfigSpace.CONVENTIONAL_SIZE; register += 4) {
                assertEquals(cf8Read(0, slot, 0, register, 4), load(ecam(0, slot, 0, register), 4),
                        "00:" + slot + ".0 register 0x" + Integer.toHexString(register));
            }
            for (int register = 0; register < 0x40; register++) {
                assertEquals(cf8Read(0, slot, 0, register, 1), load(ecam(0, slot, 0, register), 1));
            }
            assertEquals(cf8Read(0, slot, 0, 0x0e, 2), load(ecam(0, slot, 0, 0x0e), 2), "word at 0xCFE");
        }
        store(ecam(0, 1, 0, 0x3c), 1, 0x42);
        assertEquals(0x42L, cf8Read(0, 1, 0, 0x3c, 1), "a write through ECAM is seen through the ports");
        cf8Write(0, 1, 0, 0x0c, 1, 0x10);
        assertEquals(0x10L, load(ecam(0, 1, 0, 0x0c), 1), "and the other way round");
        assertEquals(0L, load(ecam(0, 1, 0, 0x100), 4), "extended space through ECAM: zeros");
        assertEquals(load(ecam(0, 1, 0, 0), 4) | load(ecam(0, 1, 0, 4), 4) << 32, load(ecam(0, 1, 0, 0), 8),
                "a qword through ECAM is two dwords");
    }

    @Test
    void oddAccessesThroughThePortsAndEcamStayInsideTheirFunction() {
        root.add(device(InterruptPin.NONE));
        assertEquals(0x0005L, cf8Read(0, 1, 0, 0x02, 2), "word at 0xCFE: the device ID");
        assertEquals(0x1bL, cf8Read(0, 1, 0, 0x01, 1), "byte at 0xCFD: the vendor ID's high byte");
        out(0xcf8, 4, 0x8000_0800L);
        assertEquals(0x05_1bL, in(0xcfd, 2), "word at 0xCFD: bytes 1 and 2 of the dword");
        // A dword at 0xCFE runs past the data port: its first half is the port's, the rest nobody's.
        assertEquals(0xffff_0005L, in(0xcfe, 4), "the device ID, then all ones");
        // An unaligned ECAM dword at the end of 00:01.0 reads its last two bytes and the absent 00:01.1's first two.
        assertEquals(0xffff_0000L, load(ecam(0, 1, 0, 0xffe), 4));
        assertEquals(0x0005_1b36L, load(ecam(0, 1, 0, 0x0), 4));
        assertEquals(0x05_1bL, load(ecam(0, 1, 0, 0x1), 2), "an unaligned ECAM word");
    }

    @Test
    void devicesGetSlotsInOrderNaturallyAlignedBarsMemorySpaceAndTheirRoutedGsi() {
        TestPciDevice first = device(InterruptPin.INTA, PciBar.memory32(0x1000), PciBar.memory64(0x4000));
        TestPciDevice second = device(InterruptPin.INTC, PciBar.memory32(0x10_0000));
        TestPciDevice third = device(InterruptPin.NONE);
        assertEquals(new PciAddress(0, 1, 0), root.add(first));
        assertEquals("0000:00:02.0", root.add(second).toString());
        assertEquals(new PciAddress(0, 3, 0), root.add(third));

        assertEquals(WINDOW, first.config().barAddress(0));
        assertEquals(WINDOW + 0x4000, first.config().barAddress(1), "aligned to its 16 KiB");
        assertEquals(WINDOW + 0x10_0000, second.config().barAddress(0), "aligned to its 1 MiB");
        assertEquals(PciConfigSpace.COMMAND_MEMORY, cf8Read(0, 1, 0, 0x04, 2), "memory space on, bus master off");
        assertEquals(0L, cf8Read(0, 3, 0, 0x04, 2), "nothing to enable without BARs");
        assertEquals(0xc000_4004L, cf8Read(0, 1, 0, 0x14, 4), "the 64-bit BAR in registers 1 and 2");
        assertEquals(0L, cf8Read(0, 1, 0, 0x18, 4));

        assertEquals(PciInterruptRouting.gsi(1, 0), cf8Read(0, 1, 0, 0x3c, 1), "INTA of slot 1");
        assertEquals(0x0300L | PciInterruptRouting.gsi(2, 2), cf8Read(0, 2, 0, 0x3c, 2), "INTC of slot 2");
        assertEquals(0L, cf8Read(0, 3, 0, 0x3c, 2));

        first.config().setInterrupt(true);
        assertEquals(List.of(true), gsis[X86Layout.FIRST_DEVICE_GSI + 1].calls());
    }

    @Test
    void pinsOnTheSameGsiShareItAsAWiredOr() {
        TestPciDevice a = device(InterruptPin.INTB); // slot 1, pin 1: GSI 16 + 2
        TestPciDevice b = device(InterruptPin.INTA); // slot 2, pin 0: GSI 16 + 2
        root.add(a);
        root.add(b);
        RecordingLine shared = gsis[X86Layout.FIRST_DEVICE_GSI + 2];
        a.config().setInterrupt(true);
        b.config().setInterrupt(true);
        a.config().setInterrupt(false);
        assertTrue(shared.asserted(), "b still asserts it");
        b.config().setInterrupt(false);
        assertEquals(List.of(true, false), shared.calls());
    }

    @Test
    void theBarWindowSendsEachAccessToTheBarThatDecodesItNow() {
        TestPciDevice first = device(InterruptPin.NONE, PciBar.memory32(0x1000), PciBar.memory64(0x4000));
        TestPciDevice second = device(InterruptPin.NONE, PciBar.memory32(0x1000));
        root.add(first);
        root.add(second);
        long secondBar = second.config().barAddress(0);

        assertEquals(TestPciDevice.pattern(0, 0x10, 4), load(WINDOW + 0x10, 4));
        assertEquals(TestPciDevice.pattern(1, 0x3ff8, 8), load(WINDOW + 0x4000 + 0x3ff8, 8));
        assertEquals(TestPciDevice.pattern(0, 0x2, 2), load(secondBar + 2, 2));
        store(WINDOW + 0x4000 + 0x100, 4, 0xdead_beefL);
        assertEquals(List.of(new TestPciDevice.Access(1, 0x100, 4, 0xdead_beefL)), first.writes());
        assertEquals(0xffff_ffffL, load(WINDOW + 0x2000, 4), "a gap between BARs");
        assertEquals(0xffff_ffffL, load(WINDOW + 0xfff_f000L, 4), "the window's top, unassigned");

        // Linux's BAR sizing: decode off, all ones, read, restore, decode on; through the ports.
        cf8Write(0, 2, 0, 0x04, 2, 0);
        assertEquals(0xffff_ffffL, load(secondBar, 4), "memory space off: the BAR does not answer");
        cf8Write(0, 2, 0, 0x10, 4, 0xffff_ffffL);
        assertEquals(0xffff_f000L, cf8Read(0, 2, 0, 0x10, 4));
        cf8Write(0, 2, 0, 0x10, 4, WINDOW + 0x80_0000);
        cf8Write(0, 2, 0, 0x04, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(0xffff_ffffL, load(secondBar, 4), "the BAR left its firmware address");
        assertEquals(TestPciDevice.pattern(0, 0x8, 4), load(WINDOW + 0x80_0008, 4), "and answers where the guest put it");
        store(WINDOW + 0x80_0004, 2, 0x1234);
        assertEquals(List.of(new TestPciDevice.Access(0, 4, 2, 0x1234)), second.writes());

        cf8Write(0, 2, 0, 0x10, 4, 0x1000_0000L); // outside the window: RAM's business, not the root's
        assertEquals(0xffff_ffffL, load(WINDOW + 0x80_0008, 4));
    }

    @Test
    void msixThroughTheRootReachesTheSink() {
        MsixCapability msix = new MsixCapability(2, 0, 0, 0, 0x800, root.msiSink());
        PciConfigSpace config = PciConfigSpace.builder(0x1b36, 0x0005).bar(0, PciBar.memory32(0x1000)).capability(msix).build();
        root.add(new TestPciDevice(config, msix));
        long table = config.barAddress(0);
        store(table + 16, 4, 0xfee0_0000L);
        store(table + 24, 4, 0x49);
        store(table + 28, 4, 0);
        cf8Write(0, 1, 0, 0x42, 2, MsixCapability.CONTROL_ENABLE);
        msix.signal(1);
        assertEquals(List.of(new RecordingMsiSink.Message(0xfee0_0000L, 0x49)), msi.messages());
    }

    @Test
    void aFullBusOrWindowIsAConfigurationError() {
        for (int slot = 1; slot < PciAddress.DEVICES_PER_BUS; slot++) {
            root.add(device(InterruptPin.NONE));
        }
        assertThrows(IllegalStateException.class, () -> root.add(device(InterruptPin.NONE)));

        PciRoot other = new PciRoot(gsi -> gsis[gsi], msi);
        other.add(device(InterruptPin.NONE, PciBar.memory32(X86Layout.PCI_MMIO_WINDOW_SIZE / 2)));
        other.add(device(InterruptPin.NONE, PciBar.memory32(X86Layout.PCI_MMIO_WINDOW_SIZE / 4)));
        assertThrows(IllegalStateException.class,
                () -> other.add(device(InterruptPin.NONE, PciBar.memory32(X86Layout.PCI_MMIO_WINDOW_SIZE / 2))));
    }

    @Test
    void anIoBarSitsInTheIoWindowAndDecodesPortsWhileIoSpaceIsOn() {
        TestPciDevice nic = device(InterruptPin.INTA, PciBar.memory32(0x20000), PciBar.io(64));
        PciAddress at = root.add(nic);
        int slot = at.device();
        long port = cf8Read(0, slot, 0, PciConfigSpace.BAR0 + 4, 4);
        assertEquals(1, port & 3, "an I/O BAR's low bit says so");
        long base = port & ~3L;
        assertEquals(PciRoot.IO_WINDOW.base(), base, "placed at the I/O window's start");
        assertEquals(PciConfigSpace.COMMAND_IO | PciConfigSpace.COMMAND_MEMORY, cf8Read(0, slot, 0, PciConfigSpace.COMMAND, 2) & 3,
                "firmware turned I/O space on");
        assertEquals(TestPciDevice.pattern(1, 4, 4), in(base + 4, 4));
        out(base + 8, 4, 0xcafe);
        assertEquals(List.of(new TestPciDevice.Access(1, 8, 4, 0xcafe)), nic.writes());

        cf8Write(0, slot, 0, PciConfigSpace.BAR0 + 4, 4, 0xffff_ffffL);
        assertEquals(0xffff_ffc1L, cf8Read(0, slot, 0, PciConfigSpace.BAR0 + 4, 4), "the sizing probe: 64 ports");
        cf8Write(0, slot, 0, PciConfigSpace.BAR0 + 4, 4, base);
        cf8Write(0, slot, 0, PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(0xffff_ffffL, in(base + 4, 4), "I/O space off: nothing answers");
        assertEquals(TestPciDevice.pattern(0, 0x10, 4), load(WINDOW + 0x10, 4), "the memory BAR still decodes");
    }

    @Test
    void theIoSpaceBitStaysClearOnAFunctionWithoutAnIoBar() {
        PciAddress at = root.add(device(InterruptPin.NONE, PciBar.memory32(0x1000)));
        cf8Write(0, at.device(), 0, PciConfigSpace.COMMAND, 2, 0xffff);
        assertEquals(0, cf8Read(0, at.device(), 0, PciConfigSpace.COMMAND, 2) & PciConfigSpace.COMMAND_IO);
        assertThrows(IllegalArgumentException.class, () -> PciBar.io(512), "at most 256 ports");
        assertThrows(IllegalArgumentException.class, () -> PciBar.io(48), "a power of two");
    }
}
