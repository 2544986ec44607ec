package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.MEM;
import static io.vmguard.engine.interp.FpDifferentialRig.MXCSR;
import static io.vmguard.engine.interp.FpDifferentialRig.RAX;
import static io.vmguard.engine.interp.FpDifferentialRig.RFLAGS;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * SSE/SSE2 on the interpreter with fixed expected results (no KVM needed): x86's NaN rules, integer
 * indefinite, directed rounding, DAZ/FTZ, exception flags, the SIMD integer idioms of string functions.
 * The results are what an Intel CPU gives (SseDifferentialTest checks the interpreter against one).
 */
class SseKnownValuesTest {
    private static final long ONE = 0x3ff0_0000_0000_0000L, TWO = 0x4000_0000_0000_0000L, THREE = 0x4008_0000_0000_0000L;
    private static final long QNAN = 0x7ff8_0000_0000_0000L, INF = 0x7ff0_0000_0000_0000L, DEFAULT_NAN = 0xfff8_0000_0000_0000L;
    private static final long CF = 1, PF = 4, ZF = 0x40;

    private final FpDifferentialRig rig = new FpDifferentialRig("sse-known", 1);
    private final List<Runnable> checks = new ArrayList<>();

    /** One case: {@code body} runs on XMM0 = (a0, a1), XMM1 = (b0, b1), MEM = b, under {@code mxcsr}. */
    private void check(String body, long a0, long b0, int mxcsr, Consumer<ByteBuffer> expect) {
        check(body, (r, b) -> {
            b.putLong(V0, a0).putLong(V1, b0).putLong(MEM, b0).putInt(MXCSR, mxcsr).putLong(RAX, 0x1234_5678_9abc_def0L);
        }, expect);
    }

    private void check(String body, BiConsumer<Random, ByteBuffer> input, Consumer<ByteBuffer> expect) {
        FpDifferentialRig.Test t = rig.sse(body, body, 1, input);
        checks.add(() -> expect.accept(rig.output(t, 0)));
    }

    private static Consumer<ByteBuffer> xmm0(long low, int mxcsr) {
        return out -> {
            assertEquals(Long.toHexString(low), Long.toHexString(out.getLong(V0)), "xmm0 low");
            assertEquals(Integer.toHexString(mxcsr), Integer.toHexString(out.getInt(MXCSR)), "mxcsr");
        };
    }

    private static Consumer<ByteBuffer> rax(long value, int mxcsr) {
        return out -> {
            assertEquals(Long.toHexString(value), Long.toHexString(out.getLong(RAX)), "rax");
            assertEquals(Integer.toHexString(mxcsr), Integer.toHexString(out.getInt(MXCSR)), "mxcsr");
        };
    }

    @Test
    void knownResults() throws Exception {
        check("addsd %xmm1, %xmm0", ONE, TWO, 0x1f80, xmm0(THREE, 0x1f80));
        // 1/3 under each rounding mode: nearest and down agree, up is one unit above; PE set.
        check("divsd %xmm1, %xmm0", ONE, THREE, 0x1f80, xmm0(0x3fd5_5555_5555_5555L, 0x1fa0));
        check("divsd %xmm1, %xmm0", ONE, THREE, 0x3f80, xmm0(0x3fd5_5555_5555_5555L, 0x3fa0));
        check("divsd %xmm1, %xmm0", ONE, THREE, 0x5f80, xmm0(0x3fd5_5555_5555_5556L, 0x5fa0));
        check("divsd %xmm1, %xmm0", ONE, 0, 0x1f80, xmm0(INF, 0x1f84)); // ZE
        // Operands near DBL_MAX: -(DBL_MAX - 0x1.cedc72681db13p1022) lies halfway between two doubles, so it
        // rounds to ...76 to nearest and down, to ...75 toward zero and up (PE each time).
        long big = 0x7fdc_edc7_2681_db13L, minusMax = 0xffef_ffff_ffff_ffffL;
        check("addsd %xmm1, %xmm0", big, minusMax, 0x1f80, xmm0(0xffe1_891c_6cbf_1276L, 0x1fa0));
        check("addsd %xmm1, %xmm0", big, minusMax, 0x3f80, xmm0(0xffe1_891c_6cbf_1276L, 0x3fa0));
        check("addsd %xmm1, %xmm0", big, minusMax, 0x5f80, xmm0(0xffe1_891c_6cbf_1275L, 0x5fa0));
        check("addsd %xmm1, %xmm0", big, minusMax, 0x7f80, xmm0(0xffe1_891c_6cbf_1275L, 0x7fa0));
        check("subsd %xmm1, %xmm0", big, minusMax ^ Long.MIN_VALUE, 0x7f80, xmm0(0xffe1_891c_6cbf_1275L, 0x7fa0));
        check("subsd %xmm1, %xmm0", INF, INF, 0x1f80, xmm0(DEFAULT_NAN, 0x1f81)); // IE, default NaN
        check("sqrtsd %xmm1, %xmm0", 0, 0xbff0_0000_0000_0000L, 0x1f80, xmm0(DEFAULT_NAN, 0x1f81));
        // NaN operands: the first source's NaN wins (quieted, IE for a signaling one).
        check("addsd %xmm1, %xmm0", 0x7ff0_0000_0000_0001L, 0x7ff8_0000_0000_0002L, 0x1f80, xmm0(0x7ff8_0000_0000_0001L, 0x1f81));
        check("mulsd %xmm1, %xmm0", ONE, 0x7ff8_0000_0000_0002L, 0x1f80, xmm0(0x7ff8_0000_0000_0002L, 0x1f80));
        // MINSD/MAXSD return the second operand if either is a NaN (IE even for a QNaN) or both are zeros.
        check("minsd %xmm1, %xmm0", QNAN, ONE, 0x1f80, xmm0(ONE, 0x1f81));
        check("maxsd %xmm1, %xmm0", ONE, QNAN, 0x1f80, xmm0(QNAN, 0x1f81));
        check("maxsd %xmm1, %xmm0", 0, Long.MIN_VALUE, 0x1f80, xmm0(Long.MIN_VALUE, 0x1f80));
        // Conversions: integer indefinite on NaN and overflow, rounding under RC, truncation.
        check("cvttsd2si %xmm1, %rax", 0, QNAN, 0x1f80, rax(Long.MIN_VALUE, 0x1f81));
        check("cvtsd2si %xmm1, %eax", 0, 0x41e0_0000_0000_0000L /* 2^31 */, 0x1f80, rax(0x8000_0000L, 0x1f81));
        check("cvtsd2si %xmm1, %rax", 0, 0x4004_0000_0000_0000L /* 2.5 */, 0x1f80, rax(2, 0x1fa0));
        check("cvtsd2si %xmm1, %rax", 0, 0x4004_0000_0000_0000L, 0x5f80, rax(3, 0x5fa0));
        check("cvttsd2si %xmm1, %rax", 0, 0xc004_0000_0000_0000L /* -2.5 */, 0x1f80, rax(-2, 0x1fa0));
        check("cvtsd2ss %xmm1, %xmm0", 0, 0x7e37_e43c_8800_759cL /* 1e300 */, 0x1f80, xmm0(0x7f80_0000L, 0x1fa8)); // OE|PE
        check("cvtsd2ss %xmm1, %xmm0", 0, 0x7e37_e43c_8800_759cL, 0x7f80, xmm0(0x7f7f_ffffL, 0x7fa8)); // RZ: largest
        check("cvtsi2sd %rax, %xmm0", 0, 0, 0x1f80, xmm0(0x43b2_3456_789a_bcdfL, 0x1fa0)); // 2^60-ish: rounded, PE
        // Denormals: DE for a denormal operand, DAZ reads it as zero, FTZ flushes a tiny result (UE|PE).
        check("addsd %xmm1, %xmm0", 1, ONE, 0x1f80, xmm0(ONE, 0x1fa2));
        check("addsd %xmm1, %xmm0", 1, 1, 0x1fc0, xmm0(0, 0x1fc0));
        check("mulsd %xmm1, %xmm0", 0x0010_0000_0000_0000L, 0x3fe0_0000_0000_0000L, 0x9f80, xmm0(0, 0x9fb0));
        check("mulsd %xmm1, %xmm0", 0x0010_0000_0000_0000L, 0x3fe0_0000_0000_0000L, 0x1f80, xmm0(0x0008_0000_0000_0000L, 0x1f80));
        // Sticky flags are kept.
        check("addsd %xmm1, %xmm0", ONE, TWO, 0x1f81, xmm0(THREE, 0x1f81));
        // Comparisons.
        check("ucomisd %xmm1, %xmm0", QNAN, ONE, 0x1f80, out -> {
            assertEquals(ZF | PF | CF, out.getLong(RFLAGS) & 0x8d5);
            assertEquals(0x1f80, out.getInt(MXCSR));
        });
        check("comisd %xmm1, %xmm0", QNAN, ONE, 0x1f80, out -> assertEquals(0x1f81, out.getInt(MXCSR)));
        check("comisd %xmm1, %xmm0", ONE, TWO, 0x1f80, out -> assertEquals(CF, out.getLong(RFLAGS) & 0x8d5));
        check("comisd %xmm1, %xmm0", Long.MIN_VALUE, 0, 0x1f80, out -> assertEquals(ZF, out.getLong(RFLAGS) & 0x8d5));
        check("cmpsd $1, %xmm1, %xmm0", ONE, TWO, 0x1f80, xmm0(-1L, 0x1f80)); // LT
        check("cmpsd $3, %xmm1, %xmm0", ONE, QNAN, 0x1f80, xmm0(-1L, 0x1f80)); // UNORD, quiet
        check("cmpsd $1, %xmm1, %xmm0", ONE, QNAN, 0x1f80, xmm0(0, 0x1f81)); // LT on a QNaN: IE
        // The SIMD idioms of strlen/memchr/strcmp.
        check("pcmpeqb %xmm1, %xmm0; pmovmskb %xmm0, %eax", 0x0041_4243_0045_4600L, 0, 0x1f80, rax(0xff89, 0x1f80));
        check("pminub %xmm1, %xmm0", 0x10ff_0180_7f00_20e0L, 0x20f0_02ff_0001_10f0L, 0x1f80, xmm0(0x10f0_0180_0000_10e0L, 0x1f80));
        check("psadbw %xmm1, %xmm0", 0x0a00_0000_0000_0000L, 0x0000_0000_0000_0005L, 0x1f80, xmm0(15, 0x1f80));
        check("psubusb %xmm1, %xmm0", 0x0510_ff00L, 0x0a01_0100L, 0x1f80, xmm0(0x000f_fe00L, 0x1f80));
        check("packuswb %xmm1, %xmm0", 0x7fff_0100_ff80_0042L, 0, 0x1f80, xmm0(0xffff_0042L, 0x1f80));
        check("pshufd $0x1b, %xmm1, %xmm0", 0, 0x1111_1111_2222_2222L, 0x1f80, out -> assertEquals(0x2222_2222_1111_1111L, out.getLong(V0 + 8)));
        check("psrldq $3, %xmm0", 0x8877_6655_4433_2211L, 0, 0x1f80, xmm0(0x0000_0088_7766_5544L, 0x1f80));
        check("movmskpd %xmm1, %eax", 0, Long.MIN_VALUE, 0x1f80, rax(1, 0x1f80));
        check("pextrw $3, %xmm1, %eax", 0, 0xbeef_0000_0000_0000L, 0x1f80, rax(0xbeef, 0x1f80));
        rig.runInterpreterOnly();
        for (Runnable c : checks) {
            c.run();
        }
    }
}
