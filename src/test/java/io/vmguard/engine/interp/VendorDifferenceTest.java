package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.interp.DifferentialHarness.Case;
import io.vmguard.engine.interp.DifferentialHarness.Outcome;
import org.junit.jupiter.api.Test;

/**
 * The AMD/Intel normalisations map exactly the documented AMD outcome onto the Intel one and nothing else, so
 * any other disagreement in a marked case or record still fails (whatever the host: no KVM needed here).
 */
class VendorDifferenceTest {
    private static final long SEED_RCX = 0xdead_beef_0000_0000L, SEED_RDI = 0x1234_5678_0101_2e00L,
            SEED_RDX = 0x7777_0000_1111_2222L;

    private static Case zeroCountScas() {
        Case c = new DifferentialHarness("vendor", 1).add("scas", ".byte 0x67; .byte 0xf3; scasq");
        c.reg(DifferentialHarness.RCX, SEED_RCX).reg(DifferentialHarness.RDI, SEED_RDI).reg(DifferentialHarness.RDX, SEED_RDX);
        return c.vendorSpecific(VendorDifference.ADDR32_REP_STRING_ZERO_COUNT,
                1 << DifferentialHarness.RCX | 1 << DifferentialHarness.RDI);
    }

    private static Outcome outcome(Case c, long rcx, long rdi, long rdx) {
        long[] regs = c.regs.clone();
        regs[DifferentialHarness.RCX] = rcx;
        regs[DifferentialHarness.RDI] = rdi;
        regs[DifferentialHarness.RDX] = rdx;
        return new Outcome(regs, 2, new byte[0], -1, 0, 0, 0, new byte[0]);
    }

    @Test
    void aZeroCountAddr32RepStringMapsOnlyTheUntouchedUpperHalves() {
        Case c = zeroCountScas();
        long rdx = SEED_RDX;
        // AMD: nothing written; Intel: ECX (and EDI on the fast-string forms) written back zero-extended.
        Outcome amd = outcome(c, SEED_RCX, SEED_RDI, rdx);
        Outcome intel = outcome(c, 0, SEED_RDI & 0xffff_ffffL, rdx);
        assertArrayEquals(intel.regs(), DifferentialHarness.normalise(c, amd, intel).regs());
        Outcome intelRcxOnly = outcome(c, 0, SEED_RDI, rdx);
        assertArrayEquals(intelRcxOnly.regs(), DifferentialHarness.normalise(c, amd, intelRcxOnly).regs());
    }

    @Test
    void anyOtherValueIsLeftToFail() {
        Case c = zeroCountScas();
        long rdx = SEED_RDX;
        Outcome amd = outcome(c, SEED_RCX, SEED_RDI, rdx);
        // The interpreter wrote something else than the zero-extended seed: not the documented difference.
        assertSame(amd, DifferentialHarness.normalise(c, amd, outcome(c, 1, SEED_RDI, rdx)));
        assertSame(amd, DifferentialHarness.normalise(c, amd, outcome(c, SEED_RCX, SEED_RDI + 1, rdx)));
        // The host changed the register after all: compared as it is.
        Outcome changed = outcome(c, SEED_RCX - 1, SEED_RDI, rdx);
        assertSame(changed, DifferentialHarness.normalise(c, changed, outcome(c, 0, SEED_RDI, rdx)));
        // A register outside the rule (RDX) is never mapped, even if it differs the same way.
        Outcome intel = outcome(c, 0, SEED_RDI, rdx & 0xffff_ffffL);
        assertEquals(SEED_RDX, DifferentialHarness.normalise(c, amd, intel).regs()[DifferentialHarness.RDX]);
    }

    @Test
    void theFxsaveMaskRuleAcceptsExactlyTheAmdAndIntelMasks() {
        FpDifferentialRig rig = new FpDifferentialRig("vendor", 1);
        FpDifferentialRig.Test t = rig.sse("fxsave mxcsr", "nop", 1, (r, b) -> { })
                .vendorSpecific(VendorDifference.FXSAVE_MXCSR_MASK_MM, FpDifferentialRig.RAX + 4, 4, 0x0002_ffffL, 0x0000_ffffL);
        byte[] host = record(0x0002_ffff), interp = record(0x0000_ffff);
        assertTrue(FpDifferentialRig.normalise(t, host, interp, 0));
        assertArrayEquals(interp, host, "compared as if the host had stored Intel's mask");
        byte[] other = record(0x0003_ffff);
        assertFalse(FpDifferentialRig.normalise(t, other, record(0x0000_ffff), 0), "another mask still differs");
        assertFalse(FpDifferentialRig.normalise(t, record(0x0002_ffff), record(0x0000_fffe), 0));
    }

    private static byte[] record(int mask) {
        byte[] b = new byte[FpDifferentialRig.RECORD];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(FpDifferentialRig.RAX + 4, mask)
                .putInt(FpDifferentialRig.RAX, 0x1f80);
        return b;
    }
}
