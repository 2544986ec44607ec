package io.vmguard.engine.interp.mmu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.memory.GuestMemory;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A read-modify-write's destination is read with write intent: on a page the write would fault on (read-only,
 * as copy-on-write pages are, or not present) the read itself faults with the write's error code, so the
 * instruction changes nothing (its flags included) before the guest's handler runs it again.
 */
class MmuReadForWriteTest {
    private static final long TWO_MIB = 2L << 20;
    /** Linear 2 MiB is user-writable, 4 MiB user read-only, 6 MiB not present. */
    private static final long WRITABLE = TWO_MIB, READ_ONLY = 2 * TWO_MIB, ABSENT = 3 * TWO_MIB;
    private static final int PF_PRESENT = 1, PF_WRITE = 2, PF_USER = 4;

    private GuestMemory memory;
    private Mmu mmu;

    @BeforeEach
    void setUp() throws Exception {
        memory = GuestMemory.allocate(List.of(new GuestMemory.Range(0, 4 * TWO_MIB)));
        memory.slice(0x1000, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x2000 | 0x7);
        memory.slice(0x2000, 8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x3000 | 0x7);
        var directory = memory.slice(0x3000, 32);
        directory.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, WRITABLE | 0x87); // P, W, U, 2 MiB
        directory.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, READ_ONLY | 0x85); // P, U, 2 MiB: no W
        mmu = LongModeMmus.over(memory, 0x1000, 3, LongModeMmus.RAM_ONLY);
        memory.writeLong(WRITABLE + 0x100, 0x1122_3344_5566_7788L);
        memory.writeLong(READ_ONLY + 0x100, 0x0102_0304_0506_0708L);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void aWritablePageIsReadAtEverySizeAndAcrossItsEnd() {
        assertEquals(0x88, mmu.readForWrite(WRITABLE + 0x100, 1));
        assertEquals(0x7788, mmu.readForWrite(WRITABLE + 0x100, 2));
        assertEquals(0x5566_7788L, mmu.readForWrite(WRITABLE + 0x100, 4));
        assertEquals(0x1122_3344_5566_7788L, mmu.readForWrite(WRITABLE + 0x100, 8));
        memory.writeLong(WRITABLE + 0xffc, 0xaabb_ccdd_eeff_0011L);
        assertEquals(0xaabb_ccdd_eeff_0011L, mmu.readForWrite(WRITABLE + 0xffc, 8), "two 4 KiB halves of one 2 MiB page");
    }

    @Test
    void aReadOnlyPageThatAPlainReadReachesFaultsAsTheWriteWould() {
        assertEquals(0x0506_0708L, mmu.read(READ_ONLY + 0x100, 4), "readable");
        for (int size : new int[] {1, 2, 4, 8}) {
            GuestFault fault = assertThrows(GuestFault.class, () -> mmu.readForWrite(READ_ONLY + 0x100, size));
            assertEquals(GuestFault.PF, fault.vector);
            assertEquals(PF_PRESENT | PF_WRITE | PF_USER, fault.errorCode, "size " + size);
        }
        GuestFault crossing = assertThrows(GuestFault.class, () -> mmu.readForWrite(READ_ONLY - 4, 8));
        assertEquals(PF_PRESENT | PF_WRITE | PF_USER, crossing.errorCode, "the second, read-only page of a crossing operand");
    }

    @Test
    void aPageNotPresentFaultsWithTheWritesErrorCode() {
        GuestFault fault = assertThrows(GuestFault.class, () -> mmu.readForWrite(ABSENT + 8, 4));
        assertEquals(PF_WRITE | PF_USER, fault.errorCode);
    }
}
