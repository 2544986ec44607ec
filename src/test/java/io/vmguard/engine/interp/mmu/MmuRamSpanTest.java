package io.vmguard.engine.interp.mmu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The TLB's hits on guest RAM of two regions around a hole (as vmguard lays out more than 3 GiB): each region's
 * pages are reached through the one RAM segment at the right host bytes, what must be seen (MMIO, watched
 * pages) is not cached, an access across the two regions is split, and closed memory fails cleanly.
 */
class MmuRamSpanTest {
    private static final long HIGH = 0x1_0000_0000L;
    private static final long TWO_MIB = 2L << 20;
    /** Linear 0 maps the low region's first 2 MiB, linear 2 MiB the high region's, linear 4 MiB a hole (MMIO). */
    private static final long LOW_LINEAR = 0, HIGH_LINEAR = TWO_MIB, MMIO_LINEAR = 2 * TWO_MIB, MMIO_PHYSICAL = 0xfe00_0000L;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Counts what the MMU asks of the machine around RAM. */
    private static final class Machine implements Mmu.Physical {
        final Set<Long> watched = new HashSet<>();
        final List<Long> written = new ArrayList<>();
        int looks;
        int mmioReads;

        @Override
        public long readMmio(long address, int size) {
            mmioReads++;
            return 0x5a;
        }

        @Override
        public void writeMmio(long address, int size, long value) {}

        @Override
        public void ramWritten(long address, int size, long oldValue, long newValue) {
            written.add(address);
        }

        @Override
        public boolean seesWrites(long physicalPage) {
            looks++;
            return watched.contains(physicalPage);
        }
    }

    private final Machine machine = new Machine();

    /** 4-level paging with 2 MiB pages, tables in the low region's first pages. */
    private static Mmu longModeMmu(GuestMemory memory, Mmu.Physical machine) {
        memory.slice(0x1000, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x2000 | 0x7);
        MemorySegment directory = memory.slice(0x3000, 24);
        memory.slice(0x2000, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x3000 | 0x7);
        directory.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x0 | 0x87);
        directory.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, HIGH | 0x87);
        directory.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, MMIO_PHYSICAL | 0x87);
        return LongModeMmus.over(memory, 0x1000, 0, machine);
    }

    private static GuestMemory twoRegions() throws Exception {
        return GuestMemory.allocate(List.of(new GuestMemory.Range(0, TWO_MIB), new GuestMemory.Range(HIGH, TWO_MIB)));
    }

    @Test
    void hitsReachTheRightHostBytesOfEitherRegion() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            Mmu mmu = longModeMmu(memory, machine);
            mmu.write32(HIGH_LINEAR + 0x5010, 0x1234_5678);
            mmu.write64(LOW_LINEAR + 0x9008, 0x0102_0304_0506_0708L);
            assertEquals(0x1234_5678, memory.slice(HIGH + 0x5010, 4).get(U32, 0));
            assertEquals(0x0506_0708, memory.slice(0x9008, 4).get(U32, 0));

            memory.slice(HIGH + 0x5ffc, 4).set(U32, 0, 0xcafe_f00d);
            assertEquals(0xcafe_f00d, mmu.read32(HIGH_LINEAR + 0x5ffc));
            assertEquals(0x0d, mmu.read8(HIGH_LINEAR + 0x5ffc));
            assertEquals(0x0102_0304_0506_0708L, mmu.read64(LOW_LINEAR + 0x9008));
            assertEquals(0x0304, mmu.read16(LOW_LINEAR + 0x900c));
        }
    }

    @Test
    void aSecondWriteToAPageIsATlbHit() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            Mmu mmu = longModeMmu(memory, machine);
            mmu.write16(HIGH_LINEAR + 0x7000, 1);
            int looksAfterFill = machine.looks;
            mmu.write16(HIGH_LINEAR + 0x7ffe, 2);
            mmu.write8(HIGH_LINEAR + 0x7123, 3);
            assertEquals(looksAfterFill, machine.looks, "a hit asks nobody about the page");
            assertEquals(2, memory.slice(HIGH + 0x7ffe, 2).get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(3, memory.slice(HIGH + 0x7123, 1).get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void writesToAWatchedPageAreSeenEveryTime() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            machine.watched.add(HIGH + 0x3000);
            Mmu mmu = longModeMmu(memory, machine);
            mmu.write32(HIGH_LINEAR + 0x3004, 7);
            mmu.write32(HIGH_LINEAR + 0x3008, 8);
            assertEquals(List.of(HIGH + 0x3004, HIGH + 0x3008), machine.written);
            assertEquals(8, mmu.read32(HIGH_LINEAR + 0x3008));
        }
    }

    @Test
    void anAccessAcrossTheTwoRegionsIsSplitBetweenThem() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            Mmu mmu = longModeMmu(memory, machine);
            mmu.read32(HIGH_LINEAR); // both pages cached first: the crossing must still not use the span
            mmu.read32(HIGH_LINEAR - 4);
            mmu.write32(HIGH_LINEAR - 2, 0xaabb_ccdd);
            assertArrayEquals(new byte[] {(byte) 0xdd, (byte) 0xcc}, memory.readBytes(TWO_MIB - 2, 2));
            assertArrayEquals(new byte[] {(byte) 0xbb, (byte) 0xaa}, memory.readBytes(HIGH, 2));
            assertEquals(0xaabb_ccdd, mmu.read32(HIGH_LINEAR - 2));
        }
    }

    @Test
    void deviceMemoryIsNeverCached() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            Mmu mmu = longModeMmu(memory, machine);
            assertEquals(0x5a, mmu.read8(MMIO_LINEAR + 0x10));
            assertEquals(0x5a, mmu.read8(MMIO_LINEAR + 0x10));
            assertEquals(2, machine.mmioReads);
            assertNull(mmu.ramPage(MMIO_LINEAR, Mmu.READ));
            assertEquals(-1, mmu.fetchPhysical(MMIO_LINEAR));
        }
    }

    @Test
    void pageViewsShowTheHighRegionsPage() throws Exception {
        try (GuestMemory memory = twoRegions()) {
            Mmu mmu = longModeMmu(memory, machine);
            memory.write(HIGH + 0x4000, new byte[] {(byte) 0x90, (byte) 0xc3});
            assertEquals(HIGH + 0x4001, mmu.fetchPhysical(HIGH_LINEAR + 0x4001));
            MemorySegment code = mmu.fetchedPage(HIGH_LINEAR + 0x4001);
            assertEquals(4096, code.byteSize());
            assertEquals((byte) 0xc3, code.get(ValueLayout.JAVA_BYTE, 1));
            assertEquals(0xc3, mmu.fetch8(HIGH_LINEAR + 0x4001));
            MemorySegment page = mmu.ramPage(HIGH_LINEAR + 0x4800, Mmu.WRITE);
            assertEquals(4096, page.byteSize());
            page.set(ValueLayout.JAVA_BYTE, 0x800, (byte) 0x11);
            assertEquals(0x11, memory.readBytes(HIGH + 0x4800, 1)[0]);
        }
    }

    @Test
    void anAccessAfterTheMemoryIsClosedFailsCleanly() throws Exception {
        GuestMemory memory = twoRegions();
        Mmu mmu = longModeMmu(memory, machine);
        mmu.write32(HIGH_LINEAR + 0x100, 1);
        memory.close();
        assertThrows(IllegalStateException.class, () -> mmu.write32(HIGH_LINEAR + 0x100, 2));
        assertThrows(IllegalStateException.class, () -> mmu.read32(LOW_LINEAR + 0x100));
    }

    @Test
    void regionsOfHeapMemoryWorkWithoutOneSpan() {
        // long[]: the page walker sets accessed bits with aligned 8-byte atomics, which byte[] memory cannot do.
        GuestMemory memory = GuestMemory.wrap(List.of(
                new MemoryRegion(0, MemorySegment.ofArray(new long[(int) TWO_MIB / 8])),
                new MemoryRegion(HIGH, MemorySegment.ofArray(new long[(int) TWO_MIB / 8]))));
        Mmu mmu = longModeMmu(memory, machine);
        mmu.write32(HIGH_LINEAR + 0x20, 0x7777_0001);
        mmu.write32(LOW_LINEAR + 0x9020, 0x7777_0002);
        assertEquals(0x7777_0001, memory.slice(HIGH + 0x20, 4).get(U32, 0));
        assertEquals(0x7777_0002, memory.slice(0x9020, 4).get(U32, 0));
        assertEquals(0x7777_0001, mmu.read32(HIGH_LINEAR + 0x20));
        assertEquals(0x7777_0002, mmu.read32(LOW_LINEAR + 0x9020));
    }
}
