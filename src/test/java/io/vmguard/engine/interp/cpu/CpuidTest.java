package io.vmguard.engine.interp.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * Leaf 7's subleaves as Linux reads them (arch/x86/kernel/cpu/common.c): subleaf 1 only when subleaf 0's EAX
 * says it exists, and then its EAX alone. Fast short REP STOSB there turns 6.12's memset into one REP STOSB.
 */
class CpuidTest {
    private static int[] query(int leaf, int subleaf) {
        int[] out = new int[4];
        Cpuid.query(leaf, subleaf, 0, out);
        return out;
    }

    @Test
    void leafSevenSubleafZeroNamesSubleafOneAsTheHighest() {
        int[] subleaf0 = query(7, 0);
        assertEquals(1, subleaf0[0], "EAX: highest subleaf of leaf 7");
        assertEquals(1 << 9, subleaf0[1], "EBX: ERMS");
        assertEquals(0, subleaf0[2]);
        assertEquals(1 << 4 | 1 << 29, subleaf0[3], "EDX: FSRM, ARCH_CAPABILITIES");
    }

    @Test
    void leafSevenSubleafOneOffersFastShortRepStosbAndNothingElse() {
        assertArrayEquals(new int[] {1 << 11, 0, 0, 0}, query(7, 1), "EAX bit 11: FSRS");
    }

    @Test
    void subleavesBeyondTheHighestAreZero() {
        assertArrayEquals(new int[4], query(7, 2));
    }
}
