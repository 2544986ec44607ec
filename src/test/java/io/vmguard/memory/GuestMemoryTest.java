package io.vmguard.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class GuestMemoryTest {
    private static final long MIB = 1 << 20;

    @Test
    void readsBackWhatWasWrittenInEveryWidthLittleEndian() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 2 * MIB)))) {
            memory.writeLong(0x1000, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, memory.readLong(0x1000));
            assertEquals(0x55667788, memory.readInt(0x1000));
            assertEquals((short) 0x7788, memory.readShort(0x1000));
            assertEquals((byte) 0x88, memory.readByte(0x1000));
            memory.write(0x2001, new byte[] {1, 2, 3});
            assertArrayEquals(new byte[] {0, 1, 2, 3, 0}, memory.readBytes(0x2000, 5));
        }
    }

    @Test
    void anonymousGuestRamIsOfferedTransparentHugePages() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 4 * MIB)))) {
            long address = memory.regions().getFirst().backing().address();
            assertTrue(vmFlags(address).contains(" hg"), "VmFlags of guest RAM: " + vmFlags(address));
        }
    }

    /** The VmFlags line of the mapping at {@code address} in /proc/self/smaps ("hg": MADV_HUGEPAGE was given). */
    private static String vmFlags(long address) throws Exception {
        boolean inMapping = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] bounds = line.substring(0, line.indexOf(' ')).split("-");
                inMapping = Long.parseUnsignedLong(bounds[0], 16) <= address && address < Long.parseUnsignedLong(bounds[1], 16);
            } else if (inMapping && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        throw new AssertionError("no mapping at 0x" + Long.toHexString(address) + " in /proc/self/smaps");
    }

    @Test
    void newMemoryIsZero() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, MIB)))) {
            assertEquals(0, memory.readLong(MIB - 8));
        }
    }

    @Test
    void rejectsAccessesThatLeaveGuestRam() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, MIB)))) {
            assertThrows(GuestMemoryException.class, () -> memory.readLong(MIB - 4));
            assertThrows(GuestMemoryException.class, () -> memory.readByte(MIB));
            assertThrows(GuestMemoryException.class, () -> memory.readByte(-1));
            assertThrows(GuestMemoryException.class, () -> memory.slice(8, Long.MAX_VALUE));
            assertThrows(GuestMemoryException.class, () -> memory.slice(Long.MAX_VALUE - 2, 8));
        }
    }

    @Test
    void anAccessMayNotSpanTwoRegionsEvenWhenTheyTouch() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(
                new GuestMemory.Range(0, MIB), new GuestMemory.Range(MIB, MIB)))) {
            assertTrue(memory.contains(MIB - 4, 4));
            assertTrue(memory.contains(MIB, 4));
            assertFalse(memory.contains(MIB - 4, 8));
            assertThrows(GuestMemoryException.class, () -> memory.readLong(MIB - 4));
        }
    }

    @Test
    void regionsAreSortedAndTheHoleBetweenThemIsNotMemory() throws Exception {
        try (GuestMemory memory = GuestMemory.allocate(List.of(
                new GuestMemory.Range(8 * MIB, MIB), new GuestMemory.Range(0, MIB)))) {
            assertEquals(0, memory.regions().getFirst().start());
            assertEquals(9 * MIB, memory.end());
            assertEquals(2 * MIB, memory.totalSize());
            assertThrows(GuestMemoryException.class, () -> memory.readByte(4 * MIB));
        }
    }

    @Test
    void overlappingRegionsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(List.of(
                new GuestMemory.Range(0, 2 * MIB), new GuestMemory.Range(MIB, MIB))));
    }

    @Test
    void viewsAreUnusableOnceMemoryIsClosed() throws Exception {
        GuestMemory memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, MIB)));
        var view = memory.slice(0, 8);
        memory.close();
        assertThrows(IllegalStateException.class, () -> view.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0));
    }
}
