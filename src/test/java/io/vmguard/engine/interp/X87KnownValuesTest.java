package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.FCW;
import static io.vmguard.engine.interp.FpDifferentialRig.MEM;
import static io.vmguard.engine.interp.FpDifferentialRig.RAX;
import static io.vmguard.engine.interp.FpDifferentialRig.RFLAGS;
import static io.vmguard.engine.interp.FpDifferentialRig.SAVE;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static io.vmguard.engine.interp.FpDifferentialRig.putExtended;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The x87 on the interpreter with fixed expected results (no KVM needed): 80-bit arithmetic to the last
 * bit, rounding and precision control, the constants, FPREM's quotient bits, integer stores, stack faults
 * and classification. The results are an Intel CPU's (X87DifferentialTest checks the interpreter against one).
 */
class X87KnownValuesTest {
    private static final long[] ONE = {0x8000_0000_0000_0000L, 0x3fff};
    private static final long[] THREE = {0xc000_0000_0000_0000L, 0x4000};
    private static final long[] TWO = {0x8000_0000_0000_0000L, 0x4000};
    private static final long[] TEN = {0xa000_0000_0000_0000L, 0x4002};
    private static final long[] ONE_AND_HALF = {0xc000_0000_0000_0000L, 0x3fff};
    private static final long[] TWO_AND_HALF = {0xa000_0000_0000_0000L, 0x4000};
    private static final int C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;

    private final FpDifferentialRig rig = new FpDifferentialRig("x87-known", 1);
    private final List<Runnable> checks = new ArrayList<>();

    /** {@code body} runs with ST0 = a, ST1 = b under control word {@code fcw}. */
    private void check(String body, long[] a, long[] b, int fcw, Consumer<ByteBuffer> expect) {
        FpDifferentialRig.Test t = rig.x87(body, body, 1, (r, in) -> {
            putExtended(in, V0, a);
            putExtended(in, V1, b);
            in.putShort(FCW, (short) fcw);
            in.putLong(MEM, 0);
        });
        checks.add(() -> expect.accept(rig.output(t, 0)));
    }

    /** The status word after the body (exceptions, condition codes, TOP). */
    private static int status(ByteBuffer out) {
        return out.getShort(0x30) & 0xffff;
    }

    /** ST(i) after the body, from the FNSAVE image: {significand, sign/exponent}. */
    private static long[] st(ByteBuffer out, int i) {
        return new long[] {out.getLong(SAVE + 28 + 10 * i), out.getShort(SAVE + 28 + 10 * i + 8) & 0xffff};
    }

    private static Consumer<ByteBuffer> st0(long sig, int signExp, int status) {
        return out -> {
            long[] v = st(out, 0);
            assertEquals(Long.toHexString(sig) + "/" + Integer.toHexString(signExp), Long.toHexString(v[0]) + "/" + Long.toHexString(v[1]), "ST0");
            assertEquals(Integer.toHexString(status), Integer.toHexString(status(out)), "status word");
        };
    }

    @Test
    void knownResults() throws Exception {
        // TOP is 6 after the two loads: status 0x3000.
        check("fdivr %st(1), %st", THREE, ONE, 0x037f, st0(0xaaaa_aaaa_aaaa_aaabL, 0x3ffd, 0x3000 | C1 | 0x20)); // 1/3 rounded up
        check("fdivr %st(1), %st", THREE, ONE, 0x077f, st0(0xaaaa_aaaa_aaaa_aaaaL, 0x3ffd, 0x3000 | 0x20)); // RD
        check("fdivr %st(1), %st", THREE, ONE, 0x027f, st0(0xaaaa_aaaa_aaaa_a800L, 0x3ffd, 0x3000 | 0x20)); // 53-bit precision
        check("fdivr %st(1), %st", THREE, ONE, 0x007f, st0(0xaaaa_ab00_0000_0000L, 0x3ffd, 0x3000 | C1 | 0x20)); // 24-bit
        check("fsqrt", TWO, ONE, 0x037f, st0(0xb504_f333_f9de_6484L, 0x3fff, 0x3000 | 0x20));
        check("fadd %st(1), %st", ONE, TWO, 0x037f, st0(0xc000_0000_0000_0000L, 0x4000, 0x3000));
        check("fldpi", ONE, ONE, 0x037f, st0(0xc90f_daa2_2168_c235L, 0x4000, 0x2800));
        check("fldpi", ONE, ONE, 0x0f7f, st0(0xc90f_daa2_2168_c234L, 0x4000, 0x2800)); // RZ
        check("fldln2", ONE, ONE, 0x037f, st0(0xb172_17f7_d1cf_79acL, 0x3ffe, 0x2800));
        check("fldl2e", ONE, ONE, 0x037f, st0(0xb8aa_3b29_5c17_f0bcL, 0x3fff, 0x2800));
        check("fldl2t", ONE, ONE, 0x037f, st0(0xd49a_784b_cd1b_8afeL, 0x4000, 0x2800));
        check("fldlg2", ONE, ONE, 0x037f, st0(0x9a20_9a84_fbcf_f799L, 0x3ffd, 0x2800));
        // 10 mod 1.5 = 1, quotient 6 = 110b: C0 = Q2, C3 = Q1, C1 = Q0.
        check("fprem", TEN, ONE_AND_HALF, 0x037f, st0(0x8000_0000_0000_0000L, 0x3fff, 0x3000 | C0 | C3));
        // FPREM1 rounds the quotient to nearest: 10 = 7 x 1.5 - 0.5.
        check("fprem1", TEN, ONE_AND_HALF, 0x037f, st0(0x8000_0000_0000_0000L, 0xbffe, 0x3000 | C0 | C3 | C1));
        // A denormal dividend and an infinite modulus: the result is ST(0) itself (SDM FPREM/FPREM1 tables),
        // exact, so with UM masked only DE (no UE: masked underflow needs an inexact result); with UM unmasked
        // the tiny result underflows (SDM Vol. 1 8.5.5): normalised, exponent biased by 24576, UE, ES and B.
        // With DM unmasked DE stops the instruction before any result (ST0 kept, no UE).
        long[] denormal = {0x0001_3e79_32d8_b8f8L, 0x0000};
        long[] minusInfinity = {0x8000_0000_0000_0000L, 0xffff};
        for (String op : new String[] {"fprem", "fprem1"}) {
            check(op, denormal, minusInfinity, 0x037f, st0(denormal[0], 0x0000, 0x3000 | 0x02));
            check(op, denormal, minusInfinity, 0x0f6f, st0(0x9f3c_996c_5c7c_0000L, 0x5ff2, 0xb000 | 0x80 | 0x10 | 0x02));
            check(op, denormal, minusInfinity, 0x0f6d, st0(denormal[0], 0x0000, 0xb000 | 0x80 | 0x02));
        }
        check("fxtract", TEN, ONE, 0x037f, out -> {
            assertEquals(0xa000_0000_0000_0000L, st(out, 0)[0]);
            assertEquals(0x3fff, st(out, 0)[1]); // significand 1.25
            assertEquals(0xc000_0000_0000_0000L, st(out, 1)[0]);
            assertEquals(0x4000, st(out, 1)[1]); // exponent 3
        });
        check("fscale", ONE_AND_HALF, THREE, 0x037f, st0(0xc000_0000_0000_0000L, 0x4002, 0x3000)); // 1.5 x 2^3
        check("frndint", TWO_AND_HALF, ONE, 0x037f, st0(0x8000_0000_0000_0000L, 0x4000, 0x3000 | 0x20)); // even
        check("frndint", TWO_AND_HALF, ONE, 0x087f, st0(0xc000_0000_0000_0000L, 0x4000, 0x3000 | C1 | 0x20)); // up
        check("fistpl 0x20(%r14)", TWO_AND_HALF, ONE, 0x037f, out -> {
            assertEquals(2, out.getInt(MEM));
            assertEquals(0x3800 | 0x20, status(out));
        });
        check("fisttpl 0x20(%r14)", new long[] {0xf000_0000_0000_0000L, 0xc000}, ONE, 0x037f, out -> assertEquals(-3, out.getInt(MEM)));
        check("fistps 0x20(%r14)", new long[] {0x8000_0000_0000_0000L, 0x400f}, ONE, 0x037f, out -> { // 65536
            assertEquals((short) 0x8000, out.getShort(MEM), "integer indefinite");
            assertEquals(0x3800 | 0x01, status(out), "IE");
        });
        // Comparisons: C3 C2 C0, and EFLAGS for FCOMI; a NaN is unordered (FCOM: IE).
        check("fcom %st(1)", ONE, TWO, 0x037f, out -> assertEquals(0x3000 | C0, status(out)));
        check("fcom %st(1)", TWO, TWO, 0x037f, out -> assertEquals(0x3000 | C3, status(out)));
        check("fucom %st(1)", new long[] {0xc000_0000_0000_0000L, 0x7fff}, TWO, 0x037f,
                out -> assertEquals(0x3000 | C3 | C2 | C0, status(out)));
        check("fcom %st(1)", new long[] {0xc000_0000_0000_0000L, 0x7fff}, TWO, 0x037f,
                out -> assertEquals(0x3000 | C3 | C2 | C0 | 0x01, status(out)));
        check("fcomi %st(1), %st", THREE, TWO, 0x037f, out -> assertEquals(0, out.getLong(RFLAGS) & 0x45));
        check("fucomip %st(1), %st", ONE, TWO, 0x037f, out -> {
            assertEquals(1, out.getLong(RFLAGS) & 0x45); // CF
            assertEquals(0x3800, status(out));
        });
        // FXAM classes: normal (C2), zero (C3), empty (C3 C0), sign in C1.
        check("fxam", new long[] {0x8000_0000_0000_0000L, 0xbfff}, ONE, 0x037f, out -> assertEquals(0x3000 | C2 | C1, status(out)));
        check("fxam", new long[] {0, 0}, ONE, 0x037f, out -> assertEquals(0x3000 | C3, status(out)));
        check("ffree %st(0); fxam", ONE, ONE, 0x037f, out -> assertEquals(0x3000 | C3 | C0, status(out)));
        // Stack overflow: IE|SF, C1 set, the real indefinite pushed; underflow: IE|SF, C1 clear.
        check("fld1; fld1; fld1; fld1; fld1; fld1; fld1", ONE, ONE, 0x037f,
                st0(0xc000_0000_0000_0000L, 0xffff, 0x3800 | C1 | 0x41)); // TOP wraps to 7
        check("fstp %st(0); fstp %st(0); fchs", ONE, ONE, 0x037f, st0(0xc000_0000_0000_0000L, 0xffff, 0x0000 | 0x41));
        // Denormal operand and an unsupported (unnormal) one.
        check("fadd %st(1), %st", ONE, new long[] {1, 0}, 0x037f, st0(0x8000_0000_0000_0000L, 0x3fff, 0x3000 | 0x22));
        check("fadd %st(1), %st", ONE, new long[] {1, 0x3fff}, 0x037f, st0(0xc000_0000_0000_0000L, 0xffff, 0x3000 | 0x01));
        // The control word as stored: bit 6 reads as one.
        check("fnstcw 0x20(%r14)", ONE, ONE, 0x0300 | 0x3f, out -> assertEquals(0x037f, out.getShort(MEM)));
        check("fnstsw %ax", TWO, ONE, 0x037f, out -> assertEquals(0x3000, out.getLong(RAX) & 0xffff));
        rig.runInterpreterOnly();
        for (Runnable c : checks) {
            c.run();
        }
    }
}
