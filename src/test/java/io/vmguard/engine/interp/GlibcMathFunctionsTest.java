package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.MXCSR;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static io.vmguard.engine.interp.FpDifferentialRig.randomDouble;
import static io.vmguard.engine.interp.FpDifferentialRig.randomMxcsr;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleBinaryOperator;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * glibc's SSE2 libm (exp, exp2, log, log2, log1p, pow, atan, atan2, asin, acos from the host's libm.a, the
 * variants its ifuncs pick without FMA/AVX) run on the interpreter: gcc-compiled double-precision code
 * with its tables and special-case paths. Against the host CPU (see {@link FpDifferentialRig}) every
 * output bit must agree, MXCSR flags included, under random rounding modes and DAZ/FTZ; and the results
 * are checked against Java's StrictMath to within an ulp or two (glibc and fdlibm are both almost, not exactly, correctly rounded), with C's
 * special cases of pow where Java's differ ({@link #cPow}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class GlibcMathFunctionsTest {
    private static final Path LIBM = Path.of("/usr/lib/x86_64-linux-gnu/libm.a");
    private static final String[] OBJECTS = {
            "e_exp.o", "e_exp_data.o", "e_log.o", "e_log_data.o", "e_pow.o", "e_pow_log_data.o", "e_atan2.o", "s_atan.o",
            "e_asin.o", "e_exp2.o", "e_log2.o", "e_log2_data.o", "s_log1p.o",
    };
    private static final int RECORDS = 300;

    private record Function(String symbol, boolean binary, DoubleBinaryOperator java, ToDoubleFunction<Random> x,
                            ToDoubleFunction<Random> y) {}

    private static final Function[] FUNCTIONS = {
            new Function("__ieee754_exp_sse2", false, (x, y) -> StrictMath.exp(x), r -> r.nextDouble(-750, 750), r -> 0),
            new Function("__ieee754_exp2", false, (x, y) -> StrictMath.pow(2, x), r -> r.nextDouble(-1080, 1030), r -> 0),
            new Function("__ieee754_log_sse2", false, (x, y) -> StrictMath.log(x), r -> Math.scalb(r.nextDouble(), r.nextInt(2000) - 1000), r -> 0),
            new Function("__log2_sse2", false, (x, y) -> StrictMath.log(x) / StrictMath.log(2), r -> Math.scalb(r.nextDouble(), r.nextInt(200) - 100), r -> 0),
            new Function("__log1p_sse2", false, (x, y) -> StrictMath.log1p(x), r -> r.nextDouble(-1, 10), r -> 0),
            new Function("__ieee754_pow_sse2", true, GlibcMathFunctionsTest::cPow, r -> r.nextDouble(0, 10), r -> r.nextDouble(-60, 60)),
            new Function("__atan_sse2", false, (x, y) -> StrictMath.atan(x), r -> r.nextGaussian() * 10, r -> 0),
            new Function("__ieee754_atan2_sse2", true, StrictMath::atan2, r -> r.nextGaussian(), r -> r.nextGaussian()),
            new Function("__ieee754_asin_sse2", false, (x, y) -> StrictMath.asin(x), r -> r.nextDouble(-1, 1), r -> 0),
            new Function("__ieee754_acos_sse2", false, (x, y) -> StrictMath.acos(x), r -> r.nextDouble(-1, 1), r -> 0),
    };

    /**
     * pow as glibc computes it, which is C's (C99/C11 Annex F, F.9.4.4: pow(+1, y) = 1 for any y, pow(-1, ±∞) = 1)
     * where Java's differs: StrictMath.pow gives NaN when |x| = 1 and y is infinite (its own spec, fdlibm's older
     * rule). pow(+1, NaN), 1 in C, is not reached here: NaN operands are skipped.
     */
    static double cPow(double x, double y) {
        if (Math.abs(x) == 1 && Double.isInfinite(y)) {
            return 1;
        }
        return StrictMath.pow(x, y);
    }

    private FpDifferentialRig rig(String name, boolean anyMode) throws IOException {
        assumeTrue(Files.isReadable(LIBM), LIBM + " is absent (Debian: libc6-dev)");
        Path dir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "glibc-libm");
        Files.createDirectories(dir);
        FpDifferentialRig rig = new FpDifferentialRig(name, FpDifferentialRig.seedFor(name));
        Path archive = archive();
        for (String object : OBJECTS) {
            Path file = dir.resolve(object);
            if (!Files.exists(file)) {
                Process p = new ProcessBuilder("ar", "x", archive.toString(), object).directory(dir.toFile())
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                try {
                    p.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            assumeTrue(Files.exists(file), object + " not in " + archive);
            rig.link(file);
        }
        // What the objects need besides each other: glibc's math_err.c without errno, and stubs for the
        // FMA/AVX variants their ifunc resolvers name (never called).
        StringBuilder stubs = new StringBuilder("""
                .globl __math_oflow, __math_uflow, __math_check_oflow, __math_check_uflow, __math_divzero, __math_invalid
                __math_oflow:
                    movabs $0x7000000000000000, %rax
                    jmp 1f
                __math_uflow:
                    movabs $0x1000000000000000, %rax
                1:  movq %rax, %xmm1
                    test %edi, %edi
                    jz 2f
                    btsq $63, %rax
                2:  movq %rax, %xmm0
                    mulsd %xmm1, %xmm0
                __math_check_oflow:
                __math_check_uflow:
                    ret
                __math_divzero:
                    movabs $0x3ff0000000000000, %rax
                    test %edi, %edi
                    jz 3f
                    btsq $63, %rax
                3:  movq %rax, %xmm0
                    pxor %xmm1, %xmm1
                    divsd %xmm1, %xmm0
                    ret
                __math_invalid:
                    movapd %xmm0, %xmm1
                    subsd %xmm0, %xmm1
                    movapd %xmm1, %xmm0
                    divsd %xmm1, %xmm0
                    ret
                .globl _dl_x86_cpu_features, __stack_chk_fail
                .p2align 3
                _dl_x86_cpu_features: .quad 0
                __stack_chk_fail: ud2
                """);
        for (String variant : new String[] {"__ieee754_exp_avx", "__ieee754_exp_fma", "__ieee754_exp_fma4", "__ieee754_log_avx",
                "__ieee754_log_fma", "__ieee754_log_fma4", "__ieee754_pow_fma", "__ieee754_pow_fma4", "__ieee754_atan2_avx",
                "__ieee754_atan2_fma", "__ieee754_atan2_fma4", "__atan_avx", "__atan_fma", "__atan_fma4", "__ieee754_acos_fma",
                "__ieee754_acos_fma4", "__ieee754_asin_fma", "__ieee754_asin_fma4", "__log2_fma", "__log1p_fma"}) {
            stubs.append(".globl ").append(variant).append('\n').append(variant).append(": ud2\n");
        }
        rig.asm(stubs.toString());
        for (Function f : FUNCTIONS) {
            rig.sse(f.symbol, "call " + f.symbol, RECORDS, (r, b) -> {
                boolean special = r.nextInt(5) == 0;
                double x = special ? Double.longBitsToDouble(randomDouble(r)) : f.x.applyAsDouble(r);
                double y = special && r.nextBoolean() ? Double.longBitsToDouble(randomDouble(r)) : f.y.applyAsDouble(r);
                b.putDouble(V0, x).putDouble(V1, y).putInt(MXCSR, anyMode && r.nextInt(3) == 0 ? randomMxcsr(r) : 0x1f80);
            }).ignore(FpDifferentialRig.RFLAGS, FpDifferentialRig.RFLAGS + 8); // flags the functions leave are undefined
        }
        return rig;
    }

    /** libm.a is a linker script naming libm-VERSION.a (and libmvec.a) on Debian: the archive itself. */
    private static Path archive() throws IOException {
        try (var files = Files.list(LIBM.getParent())) {
            return files.filter(f -> f.getFileName().toString().matches("libm-[0-9.]+\\.a")).findFirst().orElse(LIBM);
        }
    }

    @Test
    void theOracleForPowHasCsSpecialCases() {
        for (double one : new double[] {1, -1}) {
            for (double y : new double[] {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
                assertTrue(Double.isNaN(StrictMath.pow(one, y)), "Java: pow(" + one + ", " + y + ") is NaN");
                assertTrue(cPow(one, y) == 1, "C: pow(" + one + ", " + y + ") = 1");
            }
        }
        assertTrue(cPow(-1, 3) == -1 && cPow(2, Double.NEGATIVE_INFINITY) == 0 && cPow(0.5, Double.NEGATIVE_INFINITY)
                == Double.POSITIVE_INFINITY && Double.isNaN(cPow(-2, 0.5)), "elsewhere Java's pow");
    }

    @Test
    void glibcLibmAgreesWithTheHostCpuBitForBit() throws Exception {
        rig("glibc-libm", true).assertAgree();
    }

    @Test
    void glibcLibmComputesTheRightValuesOnTheInterpreter() throws Exception {
        FpDifferentialRig rig = rig("glibc-libm-java", false);
        rig.runInterpreterOnly();
        int index = 0;
        for (FpDifferentialRig.Test t : rig.tests()) {
            Function f = FUNCTIONS[index++];
            for (int r = 0; r < t.records; r++) {
                ByteBuffer in = rig.input(t, r);
                ByteBuffer out = rig.output(t, r);
                double x = in.getDouble(V0);
                double y = in.getDouble(V1);
                if (Double.isNaN(x) || Double.isNaN(y)) {
                    continue; // glibc follows C23 for signaling NaNs (pow(sNaN, 0) is NaN), Java does not
                }
                double expected = f.java.applyAsDouble(x, y);
                double actual = out.getDouble(V0);
                String where = f.symbol + "(" + x + (f.binary ? ", " + y : "") + ") = " + actual + ", Java: " + expected;
                if (Double.isNaN(expected) || Double.isInfinite(expected) || expected == 0) {
                    assertTrue(Double.compare(expected, actual) == 0 || (Double.isNaN(expected) && Double.isNaN(actual))
                            || (expected == 0 && Math.abs(actual) < 0x1p-1000), where);
                } else {
                    assertTrue(Math.abs(actual - expected) <= 2 * Math.ulp(expected), where);
                }
            }
        }
    }
}
