package io.vmguard.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingLine;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The type 0 header as a guest sees it: read-only fields, writable bits, BAR sizing, capabilities, INTx. */
class PciConfigSpaceTest {
    private static final int VENDOR = 0x1af4, DEVICE = 0x1042;

    private static PciConfigSpace.Builder device() {
        return PciConfigSpace.builder(VENDOR, DEVICE)
                .classCode(0x01, 0x80, 0x00)
                .revision(0x01)
                .subsystem(0x1af4, 0x0002);
    }

    @Test
    void identityFieldsAreReadOnlyAndCommandKeepsOnlyItsWritableBits() {
        PciConfigSpace config = device().interruptPin(InterruptPin.INTB).bar(0, PciBar.memory32(0x1000)).build();
        List<Integer> before = new ArrayList<>();
        for (int offset = 0; offset < 0x40; offset += 4) {
            before.add(config.read(offset, 4));
        }
        for (int offset = 0; offset < 0x40; offset += 4) {
            if (offset < PciConfigSpace.BAR0 || offset >= PciConfigSpace.BAR0 + 24) {
                config.write(offset, 4, -1);
            }
        }
        assertEquals(VENDOR | DEVICE << 16, config.read(0x00, 4));
        assertEquals(0x0546, config.read(PciConfigSpace.COMMAND, 2),
                "memory, bus master, parity response, SERR#, interrupt disable; no I/O space without I/O BARs");
        assertEquals(0x0000, config.read(PciConfigSpace.STATUS, 2), "no error bits to set or clear");
        assertEquals(0x0180_0001, config.read(PciConfigSpace.REVISION_ID, 4), "class and revision");
        assertEquals(0x0000_00ff, config.read(PciConfigSpace.CACHE_LINE_SIZE, 4),
                "cache line size writable; latency timer, header type 0 and BIST read 0");
        assertEquals(0x0002_1af4, config.read(PciConfigSpace.SUBSYSTEM_VENDOR_ID, 4));
        assertEquals(0, config.read(PciConfigSpace.EXPANSION_ROM, 4), "no expansion ROM");
        assertEquals(0, config.read(PciConfigSpace.CAPABILITIES_POINTER, 4));
        assertEquals(0x0000_02ff, config.read(PciConfigSpace.INTERRUPT_LINE, 4), "line writable, pin INTB read-only");
        assertEquals(before.get(PciConfigSpace.BAR0 / 4), config.read(PciConfigSpace.BAR0, 4), "BARs untouched");
    }

    @Test
    void barsAnswerTheSizingProbeWithTheirSizeMaskAndFlags() {
        PciConfigSpace config = device()
                .bar(0, PciBar.memory32(0x1000))
                .bar(2, PciBar.memory64(0x4000).asPrefetchable())
                .build();
        config.write(0x10, 4, -1);
        assertEquals(0xffff_f000, config.read(0x10, 4), "4 KiB, 32-bit, not prefetchable");
        config.write(0x18, 4, -1);
        config.write(0x1c, 4, -1);
        assertEquals(0xffff_c00c, config.read(0x18, 4), "16 KiB, 64-bit (type 10), prefetchable");
        assertEquals(0xffff_ffff, config.read(0x1c, 4), "a 64-bit BAR below 4 GiB in size: all upper bits writable");

        config.write(0x10, 4, 0xc000_1234);
        assertEquals(0xc000_1000, config.read(0x10, 4), "address bits below the size read 0");
        config.write(0x18, 4, 0x0000_8000);
        config.write(0x1c, 4, 0x0000_0001);
        assertEquals(0x1_0000_8000L, config.barAddress(2));
        assertEquals(0xc000_1000L, config.barAddress(0));
    }

    @Test
    void unusedBarRegistersReadZeroAndIgnoreWrites() {
        PciConfigSpace config = device().bar(1, PciBar.memory32(0x100)).build();
        for (int register : new int[] {0x10, 0x18, 0x1c, 0x20, 0x24}) {
            config.write(register, 4, -1);
            assertEquals(0, config.read(register, 4), "BAR register 0x" + Integer.toHexString(register));
        }
        assertTrue(config.bar(0).isEmpty());
        assertTrue(config.bar(1).isPresent());
    }

    @Test
    void byteAndWordWritesToABarMergeIntoItsAddress() {
        PciConfigSpace config = device().bar(0, PciBar.memory32(0x1000)).build();
        config.write(0x13, 1, 0xc0);
        config.write(0x11, 2, 0x2345);
        assertEquals(0xc023_4000L, config.barAddress(0), "byte 1's low nibble is below the 4 KiB size");
        assertEquals(0x40, config.read(0x11, 1));
    }

    @Test
    void unalignedAccessesTouchExactlyTheBytesTheyCover() {
        PciConfigSpace config = device().build();
        assertEquals(0x0010_421a, config.read(0x01, 4), "vendor high byte, device ID, command low byte");
        config.write(0x03, 2, 0xffff); // device ID high byte (read-only) and command low byte
        assertEquals(0x10, config.read(0x03, 1));
        assertEquals(0x46, config.read(0x04, 1));
        assertEquals(0x0000, config.read(0x3e, 2), "min_gnt and max_lat read 0");
    }

    @Test
    void theExtendedConfigSpaceReadsZeroAndIgnoresWrites() {
        PciConfigSpace config = device().build();
        for (int offset : new int[] {0x100, 0x104, 0x800, 0xffc}) {
            config.write(offset, 4, -1);
            assertEquals(0, config.read(offset, 4), "0x" + Integer.toHexString(offset));
        }
        assertEquals(0, config.read(0xfff, 1));
        assertThrows(IllegalArgumentException.class, () -> config.read(0xffe, 4), "past the 4 KiB: the root never asks");
    }

    /** A capability that remembers writes and answers reads with its offset, to see what reaches it. */
    private static final class Echo implements PciCapability {
        final List<int[]> writes = new ArrayList<>();

        @Override
        public int id() {
            return 0x0a;
        }

        @Override
        public int length() {
            return 6;
        }

        @Override
        public int read(int offset, int size) {
            int value = 0;
            for (int i = 0; i < size; i++) {
                value |= (0xe0 + offset + i) << (8 * i);
            }
            return value;
        }

        @Override
        public void write(int offset, int size, int value) {
            writes.add(new int[] {offset, size, value});
        }
    }

    @Test
    void capabilitiesFormAListAnOsCanWalk() {
        Echo echo = new Echo();
        PciConfigSpace config = device()
                .capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[] {16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}))
                .capability(echo)
                .capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[] {3}))
                .build();
        assertEquals(PciConfigSpace.STATUS_CAPABILITIES, config.read(PciConfigSpace.STATUS, 2));

        // The walk Linux's pci_find_capability does: pointer at 0x34, then ID and next at each entry.
        List<List<Integer>> found = new ArrayList<>();
        int pointer = config.read(PciConfigSpace.CAPABILITIES_POINTER, 1) & ~3;
        while (pointer != 0) {
            found.add(List.of(pointer, config.read(pointer, 1)));
            pointer = config.read(pointer + 1, 1) & ~3;
        }
        assertEquals(List.of(List.of(0x40, 0x09), List.of(0x50, 0x0a), List.of(0x58, 0x09)), found,
                "each entry 4-byte aligned after the previous one");

        assertEquals(0x0110_5009, config.read(0x40, 4), "ID, next, then the body's first bytes");
        assertEquals(0xe3e2_580a, config.read(0x50, 4), "the capability answers its own bytes, offsets relative to it");
        assertEquals(0xe5e4, config.read(0x54, 2));
        config.write(0x50, 4, 0xaabb_ccdd);
        assertEquals(1, echo.writes.size(), "one write reaches the capability, the ID and next bytes stay");
        assertEquals(List.of(2, 2, 0xaabb), List.of(echo.writes.getFirst()[0], echo.writes.getFirst()[1], echo.writes.getFirst()[2]));
        assertEquals(0x0a, config.read(0x50, 1));
        assertEquals(0, config.read(0x5c, 4), "after the last capability: zeros");
    }

    @Test
    void intxFollowsTheRequestUnlessTheGuestDisablesIt() {
        PciConfigSpace config = device().interruptPin(InterruptPin.INTA).build();
        RecordingLine line = new RecordingLine();
        config.connectInterrupt(line);

        config.setInterrupt(true);
        assertTrue(line.asserted());
        assertEquals(PciConfigSpace.STATUS_INTERRUPT, config.read(PciConfigSpace.STATUS, 2));

        config.write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_INTX_DISABLE);
        assertFalse(line.asserted(), "interrupt disable takes the line down");
        assertEquals(PciConfigSpace.STATUS_INTERRUPT, config.read(PciConfigSpace.STATUS, 2), "the status still shows the request");

        config.write(PciConfigSpace.COMMAND, 2, 0);
        assertTrue(line.asserted(), "and re-enabling brings it back");
        config.setInterrupt(false);
        assertEquals(List.of(true, false, true, false), line.calls());
        assertEquals(0, config.read(PciConfigSpace.STATUS, 2));
    }

    @Test
    void aFunctionWithoutAPinNeverRaisesAnything() {
        PciConfigSpace config = device().build();
        config.setInterrupt(true);
        assertEquals(0, config.read(PciConfigSpace.STATUS, 2));
        assertThrows(IllegalStateException.class, () -> config.connectInterrupt(new RecordingLine()));
    }

    @Test
    void barsDecodeWhereTheirRegistersPlaceThemWhileMemorySpaceIsOn() {
        PciConfigSpace config = device()
                .bar(0, PciBar.memory32(0x1000))
                .bar(4, PciBar.memory64(0x4000))
                .build();
        config.assignBar(0, 0xc000_0000L);
        config.assignBar(4, 0xc000_4000L);
        assertNull(config.decode(0xc000_0000L, 4), "memory space is off after reset");

        config.write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY);
        assertEquals(new PciConfigSpace.BarHit(0, 0x10), config.decode(0xc000_0010L, 4));
        assertEquals(new PciConfigSpace.BarHit(4, 0x3ff8), config.decode(0xc000_7ff8L, 8));
        assertNull(config.decode(0xc000_0ffeL, 4), "an access straddling the BAR's end");
        assertNull(config.decode(0xc000_1000L, 1), "between the BARs");

        config.write(0x10, 4, 0xc010_0000);
        assertNull(config.decode(0xc000_0010L, 4), "the old place is gone");
        assertEquals(new PciConfigSpace.BarHit(0, 0x10), config.decode(0xc010_0010L, 4));

        config.write(0x20, 4, 0);
        config.write(0x24, 4, 0xffff_ffff); // the top of the 64-bit space
        assertEquals(new PciConfigSpace.BarHit(4, 0x3ff0), config.decode(0xffff_ffff_0000_3ff0L, 4));
        assertNull(config.decode(0xc000_4000L, 4));
    }

    @Test
    void theBuilderRefusesLayoutsThatCannotExist() {
        assertThrows(IllegalArgumentException.class, () -> device().bar(5, PciBar.memory64(0x1000)));
        assertThrows(IllegalArgumentException.class, () -> device().bar(0, PciBar.memory64(0x1000)).bar(1, PciBar.memory32(0x1000)));
        assertThrows(IllegalArgumentException.class, () -> device().bar(1, PciBar.memory32(0x1000)).bar(0, PciBar.memory64(0x1000)));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(0x1800));
        assertThrows(IllegalArgumentException.class, () -> PciBar.memory32(8));
        assertThrows(IllegalArgumentException.class, () -> PciConfigSpace.builder(0xffff, 0));
        PciConfigSpace.Builder full = device();
        for (int i = 0; i < 12; i++) {
            full.capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[14]));
        }
        assertThrows(IllegalArgumentException.class,
                () -> full.capability(new FixedCapability(PciCapability.ID_VENDOR_SPECIFIC, new byte[14])),
                "twelve 16-byte capabilities fill 0x40-0xff");
        MsixCapability msix = new MsixCapability(8, 0, 0, 0, 0x800, new RecordingMsiSink());
        assertThrows(IllegalArgumentException.class, () -> device().capability(msix), "MSI-X in a BAR the function lacks");
        assertThrows(IllegalArgumentException.class, () -> device().bar(0, PciBar.memory32(0x800)).capability(msix),
                "the PBA at 0x800 does not fit a 2 KiB BAR");
    }
}
