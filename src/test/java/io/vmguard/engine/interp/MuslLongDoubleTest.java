package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.FCW;
import static io.vmguard.engine.interp.FpDifferentialRig.SAVE;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static io.vmguard.engine.interp.FpDifferentialRig.putExtended;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.engine.interp.fpu.SoftFloat;
import io.vmguard.engine.interp.fpu.X87Math;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * musl's long double math (the guest's static programs are built with musl-gcc) from the host's musl
 * libc.a, run on the interpreter: expl/exp2l/expm1l (F2XM1, FSCALE), logl/log2l/log1pl (FYL2X, FYL2XP1),
 * atanl/atan2l/asinl/acosl (FPATAN, FSQRT), sinl/cosl/tanl (C, with long double argument reduction),
 * sqrtl, fmodl (FPREM), rintl, floorl. Results are checked against 36-digit reference values (mpmath) and,
 * over random arguments, against the host CPU (see {@link FpDifferentialRig}): within an ulp or two,
 * since the interpreter's transcendental instructions are correctly rounded and Intel's are within an ulp
 * of that.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class MuslLongDoubleTest {
    private static final Path LIBC = Path.of("/usr/lib/x86_64-linux-musl/libc.a");
    private static final String[] OBJECTS = {
            "expl.lo", "exp2l.lo", "logl.lo", "log2l.lo", "log1pl.lo", "atan2l.lo", "atanl.lo", "asinl.lo", "acosl.lo",
            "sinl.lo", "cosl.lo", "tanl.lo", "__sinl.lo", "__cosl.lo", "__tanl.lo", "__rem_pio2l.lo", "__rem_pio2_large.lo",
            "sqrtl.lo", "fmodl.lo", "rintl.lo", "floorl.lo", "fabsl.lo", "floor.lo", "scalbn.lo",
    };

    /** Function, exact value of the result (36 digits), argument(s) as 80-bit significand and sign/exponent. */
    private static final Object[][] KNOWN = {
            {"expl", "2.7182818284590452353602874713526625", 0x8000000000000000L, 0x3fff},
            {"expl", "1.64872127070012814684865078781416357", 0x8000000000000000L, 0x3ffe},
            {"expl", "0.0387742078317220098868998352675961433", 0xd000000000000000L, 0xc000},
            {"exp2l", "1.23114441334491628450864526321957449", 0x999999999999999aL, 0x3ffd},
            {"expm1l", "1.00000500001666670832830794825549819e-5", 0xa7c5ac471b478423L, 0x3fee},
            {"logl", "0.693147180559945309417232121458176568", 0x8000000000000000L, 0x4000},
            {"logl", "2.30258509299404568401799145468436421", 0xa000000000000000L, 0x4002},
            {"log2l", "1.58496250072115618145373894394781651", 0xc000000000000000L, 0x4000},
            {"log1pl", "0.000999500333083533166767935769270814941", 0x83126e978d4fdf3bL, 0x3ff5},
            {"sinl", "0.841470984807896506652502321630299", 0x8000000000000000L, 0x3fff},
            {"sinl", "-0.506365641109758793656557610459785432", 0xc800000000000000L, 0x4005},
            {"cosl", "0.540302305868139717400936607442976604", 0x8000000000000000L, 0x3fff},
            {"tanl", "0.546302489843790513255179465780285383", 0x8000000000000000L, 0x3ffe},
            {"atanl", "1.24904577239825442582991707728109012", 0xc000000000000000L, 0x4000},
            {"atan2l", "0.463647609000806116214256231461214402", 0x8000000000000000L, 0x3fff, 0x8000000000000000L, 0x4000},
            {"asinl", "0.523598775598298873077107230546583814", 0x8000000000000000L, 0x3ffe},
            {"acosl", "1.31811607165281796574566425464604047", 0x8000000000000000L, 0x3ffd},
            {"sqrtl", "1.41421356237309504880168872420969808", 0x8000000000000000L, 0x4000},
            {"sinl", "-0.852200849767188801772705893753029368", 0x878678326eac9000L, 0x4048},
            {"expl", "5.76366942916818369627282296096127015e-4778", 0xabe0000000000000L, 0xc00c},
    };

    private FpDifferentialRig rig(String name) throws IOException {
        assumeTrue(Files.isReadable(LIBC), LIBC + " is absent (Debian: musl-dev)");
        Path dir = Path.of(System.getProperty("basedir", System.getProperty("user.dir")), "target", "musl-libm");
        Files.createDirectories(dir);
        FpDifferentialRig rig = new FpDifferentialRig(name, FpDifferentialRig.seedFor(name));
        for (String object : OBJECTS) {
            Path file = dir.resolve(object);
            if (!Files.exists(file)) {
                Process p = new ProcessBuilder("ar", "x", LIBC.toString(), object).directory(dir.toFile()).redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                try {
                    p.waitFor(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
            assumeTrue(Files.exists(file), object + " not in " + LIBC);
            rig.link(file);
        }
        rig.asm(".globl __stack_chk_fail\n__stack_chk_fail: ud2\n");
        return rig;
    }

    private static boolean binary(String function) {
        return function.equals("atan2l") || function.equals("fmodl");
    }

    /** Calls {@code function} with V0 (and V1) as long double arguments, on the stack as the ABI passes them. */
    private static FpDifferentialRig.Test call(FpDifferentialRig rig, String function, int records,
                                               java.util.function.BiConsumer<Random, ByteBuffer> input) {
        String body = "sub $32, %rsp; fldt 0x00(%r13); fstpt (%rsp); fldt 0x10(%r13); fstpt 16(%rsp); call " + function
                + "; add $32, %rsp";
        return rig.add(function, "fninit; fldcw 0x34(%r13)", body, FpDifferentialRig.X87_CAPTURE, records, input);
    }

    private static BigDecimal result(ByteBuffer out) {
        SoftFloat.Num n = SoftFloat.fromExtended(out.getLong(SAVE + 28), out.getShort(SAVE + 36) & 0xffff);
        assertEquals(SoftFloat.FINITE, n.kind(), "a finite result");
        return X87Math.binary(SoftFloat.unsigned(n.sig()), n.exp()).multiply(BigDecimal.valueOf(n.neg() ? -1 : 1));
    }

    @Test
    void knownValuesToTheLastBitOrTwo() throws Exception {
        FpDifferentialRig rig = rig("musl-known");
        FpDifferentialRig.Test[] tests = new FpDifferentialRig.Test[KNOWN.length];
        for (int i = 0; i < KNOWN.length; i++) {
            Object[] k = KNOWN[i];
            tests[i] = call(rig, (String) k[0], 1, (r, b) -> {
                putExtended(b, V0, new long[] {(Long) k[2], (Integer) k[3]});
                if (k.length > 4) {
                    putExtended(b, V1, new long[] {(Long) k[4], (Integer) k[5]});
                }
                b.putShort(FCW, (short) 0x037f);
            });
        }
        rig.runInterpreterOnly();
        for (int i = 0; i < KNOWN.length; i++) {
            BigDecimal expected = new BigDecimal((String) KNOWN[i][1]);
            BigDecimal actual = result(rig.output(tests[i], 0));
            BigDecimal error = actual.subtract(expected).abs().divide(expected.abs(), MathContext.DECIMAL64);
            assertTrue(error.compareTo(new BigDecimal("2.2e-19")) <= 0,
                    KNOWN[i][0] + ": " + actual + ", expected " + expected + " (relative error " + error + ")");
        }
    }

    @Test
    void randomArgumentsAgreeWithTheHostCpuToAnUlpOrTwo() throws Exception {
        FpDifferentialRig rig = rig("musl-host");
        String[] functions = {"expl", "exp2l", "expm1l", "logl", "log2l", "log1pl", "atanl", "atan2l", "asinl", "acosl",
                "sinl", "cosl", "tanl", "sqrtl", "fmodl", "rintl", "floorl"};
        for (String f : functions) {
            call(rig, f, 60, (r, b) -> {
                double x = switch (f) {
                    case "logl", "log2l", "sqrtl" -> Math.scalb(r.nextDouble(), r.nextInt(200) - 100);
                    case "log1pl" -> r.nextDouble(-0.9, 10);
                    case "asinl", "acosl" -> r.nextDouble(-1, 1);
                    case "expl", "exp2l", "expm1l" -> r.nextDouble(-50, 50);
                    default -> r.nextGaussian() * (r.nextBoolean() ? 2 : 1e6);
                };
                for (int slot = 0; slot < 2; slot++) {
                    SoftFloat.Num n = SoftFloat.fromDouble(Double.doubleToRawLongBits(slot == 0 ? x : r.nextGaussian() * 5));
                    putExtended(b, slot == 0 ? V0 : V1, new long[] {SoftFloat.extendedSignificand(n) | (r.nextLong() & 0x7ff),
                            SoftFloat.extendedSignExponent(n)});
                }
                b.putShort(FCW, (short) 0x037f);
            });
        }
        FpDifferentialRig.Outputs outputs = rig.runOnEveryEngine();
        int differing = 0;
        for (var oracle : outputs.oracles().entrySet()) {
        for (FpDifferentialRig.Test t : rig.tests()) {
            for (int r = 0; r < t.records; r++) {
                ByteBuffer kvm = rig.output(oracle.getValue(), t, r);
                ByteBuffer interp = rig.output(outputs.interpreter(), t, r);
                if (kvm.getLong(SAVE + 28) == interp.getLong(SAVE + 28) && kvm.getShort(SAVE + 36) == interp.getShort(SAVE + 36)) {
                    continue;
                }
                differing++;
                BigDecimal a = result(kvm);
                BigDecimal b = result(interp);
                BigDecimal tolerance = a.abs().multiply(new BigDecimal("2.2e-19"));
                assertTrue(a.subtract(b).abs().compareTo(tolerance) <= 0, oracle.getKey() + ": " + t.name + " record " + r + ": oracle " + a + ", interp " + b);
            }
        }
        }
        System.out.printf("musl long double: %d of %d results (over %s) differ from the oracle's in the last bit or two%n", differing,
                rig.records(), String.join(" and ", outputs.oracles().keySet()));
    }
}
