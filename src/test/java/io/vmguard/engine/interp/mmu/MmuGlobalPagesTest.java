package io.vmguard.engine.interp.mmu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.memory.GuestMemory;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A CR3 load drops the TLB's translations except those of global pages while CR4.PGE is set, as a processor may
 * keep them (Linux maps its kernel global and relies on nothing else). The tests repoint a page-table entry without
 * an INVLPG, so what a read returns shows whether the old translation was kept or the tables walked again.
 */
class MmuGlobalPagesTest {
    private static final long PML4 = 0x1000, PDPT = 0x2000, DIRECTORY = 0x3000, TABLE = 0x4000;
    /** Linear pages in the first 2 MiB, mapped through TABLE: one global, one not. */
    private static final long GLOBAL = 0x10_0000, LOCAL = 0x10_1000;
    private static final long FIRST_FRAME = 0x30_0000, SECOND_FRAME = 0x30_1000, OTHER_FRAME = 0x30_2000;
    private static final long PRESENT_WRITABLE = 0x3, GLOBAL_BIT = 0x100;

    private GuestMemory memory;
    private CpuState cpu;
    private Mmu mmu;

    @BeforeEach
    void setUp() throws Exception {
        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 4L << 20)));
        memory.writeLong(PML4, PDPT | PRESENT_WRITABLE);
        memory.writeLong(PDPT, DIRECTORY | PRESENT_WRITABLE);
        memory.writeLong(DIRECTORY, TABLE | PRESENT_WRITABLE);
        map(GLOBAL, FIRST_FRAME | PRESENT_WRITABLE | GLOBAL_BIT);
        map(LOCAL, SECOND_FRAME | PRESENT_WRITABLE);
        memory.writeLong(FIRST_FRAME, 0x1111);
        memory.writeLong(SECOND_FRAME, 0x2222);
        memory.writeLong(OTHER_FRAME, 0x3333);
        cpu = new CpuState();
        cpu.cr0 = SpecialRegisters.CR0_PE | SpecialRegisters.CR0_PG;
        cpu.cr4 = SpecialRegisters.CR4_PAE | SpecialRegisters.CR4_PGE;
        cpu.efer = SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA;
        cpu.cr3 = PML4;
        mmu = new Mmu(cpu, memory, LongModeMmus.RAM_ONLY, new CodePageEpoch(() -> {}));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private void map(long linear, long entry) {
        memory.writeLong(TABLE + (linear >>> 12) * 8, entry);
    }

    /** Both pages read once (cached), then both entries pointed at OTHER_FRAME behind the TLB's back. */
    private void cacheThenRepointBoth() {
        assertEquals(0x1111, mmu.read64(GLOBAL));
        assertEquals(0x2222, mmu.read64(LOCAL));
        map(GLOBAL, OTHER_FRAME | PRESENT_WRITABLE | GLOBAL_BIT);
        map(LOCAL, OTHER_FRAME | PRESENT_WRITABLE);
    }

    @Test
    void aCr3LoadKeepsGlobalTranslationsAndDropsTheOthers() {
        cacheThenRepointBoth();
        mmu.flushNonGlobal();
        assertEquals(0x1111, mmu.read64(GLOBAL), "the global page's translation was kept");
        assertEquals(0x3333, mmu.read64(LOCAL), "the other page was walked again");
    }

    @Test
    void withoutCr4PgeTheGlobalBitMeansNothing() {
        cpu.cr4 = SpecialRegisters.CR4_PAE;
        cacheThenRepointBoth();
        mmu.flushNonGlobal();
        assertEquals(0x3333, mmu.read64(GLOBAL));
        assertEquals(0x3333, mmu.read64(LOCAL));
    }

    @Test
    void aFullFlushDropsGlobalTranslationsToo() {
        cacheThenRepointBoth();
        mmu.flush(); // what a CR4 write does, which is how Linux flushes its global pages (toggling PGE)
        assertEquals(0x3333, mmu.read64(GLOBAL));
        assertEquals(0x3333, mmu.read64(LOCAL));
    }

    @Test
    void invlpgDropsAGlobalTranslation() {
        cacheThenRepointBoth();
        mmu.flushPage(GLOBAL);
        assertEquals(0x3333, mmu.read64(GLOBAL));
    }

    @Test
    void moreLocalTranslationsThanAreNotedMakeTheNextCr3LoadDropEverything() {
        cacheThenRepointBoth();
        for (int i = 0; i < 5_000; i++) { // each INVLPG and read fills the local page's slot once more
            mmu.flushPage(LOCAL);
            mmu.read64(LOCAL);
        }
        mmu.flushNonGlobal();
        assertEquals(0x3333, mmu.read64(GLOBAL), "too many to drop one by one: everything went");
        map(LOCAL, SECOND_FRAME | PRESENT_WRITABLE);
        assertEquals(0x2222, mmu.read64(LOCAL));
    }
}
