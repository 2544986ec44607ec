package io.vmguard.vmi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import java.util.List;
import org.junit.jupiter.api.Test;

class PageTableWalkerTest {
    private static final long KERNEL = 0xffff_ffff_8000_0000L;

    private final GuestMemory ram = TestRam.of(8 << 20);
    private final GuestPhysicalMemory physical = new GuestPhysicalMemory(ram);

    @Test
    void fourKibPageTranslatesWithItsOffset() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(0x40_0000, 0x20_3000, PageSize.SIZE_4K);
        Translation t = walker(tables).translate(0x40_0abc).orElseThrow();
        assertEquals(0x20_3abc, t.physicalAddress());
        assertEquals(PageSize.SIZE_4K, t.pageSize());
        assertEquals(0x20_3000, t.frame());
    }

    @Test
    void twoMibPageIgnoresThePatBitAndKeepsTheLow21Bits() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(KERNEL + 0x100_0000, 0x20_0000 | 0x1000 /* PAT */, PageSize.SIZE_2M);
        Translation t = walker(tables).translate(KERNEL + 0x112_3456).orElseThrow();
        assertEquals(0x32_3456, t.physicalAddress());
        assertEquals(PageSize.SIZE_2M, t.pageSize());
    }

    @Test
    void oneGibPageTranslatesTheWholeGibibyte() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(0xffff_8880_0000_0000L, 0, PageSize.SIZE_1G);
        PageTableWalker walker = walker(tables);
        assertEquals(0x3fff_fff0L, walker.translate(0xffff_8880_3fff_fff0L).orElseThrow().physicalAddress());
        assertEquals(PageSize.SIZE_1G, walker.translate(0xffff_8880_0000_0000L).orElseThrow().pageSize());
        assertTrue(walker.translate(0xffff_8880_4000_0000L).isEmpty());
    }

    @Test
    void nonPresentEntriesAtEveryLevelAreTranslationFailures() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        long va = 0x7f00_1234_5000L;
        tables.map(va, 0x30_0000, PageSize.SIZE_4K);
        PageTableWalker walker = walker(tables);
        assertTrue(walker.translate(va).isPresent());
        for (int level = 1; level <= 4; level++) {
            PageTableBuilder fresh = new PageTableBuilder(ram, 0x20_0000 + level * 0x1_0000L, false);
            fresh.map(va, 0x30_0000, PageSize.SIZE_4K);
            fresh.setEntry(va, level, 0x30_0000 & ~1L); // an address but no present bit
            assertTrue(walker(fresh).translate(va).isEmpty(), "level " + level);
        }
    }

    @Test
    void largeBitInTheTopLevelIsReservedAndFails() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(0x1000, 0x30_0000, PageSize.SIZE_4K);
        tables.setEntry(0x1000, 4, ram.readLong(tables.root()) | 0x80);
        assertTrue(walker(tables).translate(0x1000).isEmpty());
    }

    @Test
    void tablesOutsideRamAndNonCanonicalAddressesFailQuietly() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(0x1000, 0x30_0000, PageSize.SIZE_4K);
        tables.setEntry(0x1000, 3, 0x7_0000_0000L | 1); // next table far beyond RAM
        PageTableWalker walker = walker(tables);
        assertTrue(walker.translate(0x1000).isEmpty());
        assertTrue(walker.translate(0x0000_8000_0000_0000L).isEmpty());
        assertTrue(new PageTableWalker(physical, 0x7_0000_0000L, false).translate(0x1000).isEmpty());
    }

    @Test
    void rightsCombineAcrossLevels() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(0x5000, 0x30_0000, PageSize.SIZE_4K, PageTableBuilder.PRESENT | PageTableBuilder.NO_EXECUTE);
        tables.map(0x6000, 0x30_1000, PageSize.SIZE_4K,
                PageTableBuilder.PRESENT | PageTableBuilder.WRITABLE | PageTableBuilder.USER);
        PageTableWalker walker = walker(tables);
        Translation data = walker.translate(0x5000).orElseThrow();
        assertFalse(data.writable());
        assertFalse(data.user());
        assertFalse(data.executable());
        Translation user = walker.translate(0x6000).orElseThrow();
        assertTrue(user.writable() && user.user() && user.executable());
    }

    @Test
    void fiveLevelPagingUsesTheFifthTableAndFiftySevenBitAddresses() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, true);
        long va = 0xff11_0000_0000_0000L;
        tables.map(va, 0x40_0000, PageSize.SIZE_2M);
        PageTableWalker walker = new PageTableWalker(physical, tables.root(), true);
        assertEquals(0x40_0010, walker.translate(va + 0x10).orElseThrow().physicalAddress());
        assertTrue(walker(tables).translate(va).isEmpty(), "a 4-level walk of the same root sees other tables");
    }

    @Test
    void mappedRangesMergesAbuttingPagesOfMixedSizes() {
        PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
        tables.map(KERNEL + 0x100_0000, 0, PageSize.SIZE_2M);
        tables.mapRange(KERNEL + 0x120_0000, 0x20_0000, 0x3000, PageSize.SIZE_4K);
        tables.map(KERNEL + 0x200_0000, 0x40_0000, PageSize.SIZE_4K);
        List<PageTableWalker.MappedRange> ranges = walker(tables).mappedRanges(KERNEL, KERNEL + (1L << 30));
        assertEquals(List.of(new PageTableWalker.MappedRange(KERNEL + 0x100_0000, KERNEL + 0x120_3000),
                new PageTableWalker.MappedRange(KERNEL + 0x200_0000, KERNEL + 0x200_1000)), ranges);
        assertEquals(List.of(new PageTableWalker.MappedRange(KERNEL + 0x110_0000, KERNEL + 0x120_1000)),
                walker(tables).mappedRanges(KERNEL + 0x110_0000, KERNEL + 0x120_1000));
    }

    private PageTableWalker walker(PageTableBuilder tables) {
        return new PageTableWalker(physical, tables.root(), false);
    }
}
