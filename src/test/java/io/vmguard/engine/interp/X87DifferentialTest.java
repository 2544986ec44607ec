package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.FpDifferentialRig.FCW;
import static io.vmguard.engine.interp.FpDifferentialRig.MEM;
import static io.vmguard.engine.interp.FpDifferentialRig.RAX;
import static io.vmguard.engine.interp.FpDifferentialRig.RFLAGS;
import static io.vmguard.engine.interp.FpDifferentialRig.V0;
import static io.vmguard.engine.interp.FpDifferentialRig.V1;
import static io.vmguard.engine.interp.FpDifferentialRig.putExtended;
import static io.vmguard.engine.interp.FpDifferentialRig.randomDouble;
import static io.vmguard.engine.interp.FpDifferentialRig.randomExtended;
import static io.vmguard.engine.interp.FpDifferentialRig.randomFcw;
import static io.vmguard.engine.interp.FpDifferentialRig.randomFloat;
import static io.vmguard.engine.interp.FpDifferentialRig.relatedExtended;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.interp.fpu.SoftFloat;
import io.vmguard.engine.interp.fpu.X87Math;
import io.vmguard.engine.interp.fpu.X87Unit;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * The x87 on the interpreter against the host CPU (see {@link FpDifferentialRig}). Each record starts from FNINIT with a
 * random control word (rounding and precision control, now and then an unmasked exception) and ST0, ST1
 * loaded with 80-bit operands (specials, denormals, pseudo-denormals, unnormals, extremes, related
 * pairs); after the instruction, FNSTSW and FNSAVE capture the status, control and tag words and all
 * eight registers, and RFLAGS is kept for FCOMI and FCMOV.
 *
 * <p>The transcendental instructions (F2XM1, FYL2X, FSIN, ...) are computed in double precision by the
 * interpreter (see {@link X87Unit}): only their special operands are compared.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class X87DifferentialTest {
    private static final int RECORDS = 450;

    private static BiConsumer<Random, ByteBuffer> operands() {
        return (r, b) -> {
            long[] a = randomExtended(r);
            putExtended(b, V0, a);
            putExtended(b, V1, relatedExtended(r, a));
            b.putShort(FCW, (short) randomFcw(r));
            b.putLong(RFLAGS, 2 | (r.nextLong() & 0x8d5));
            b.putLong(MEM, r.nextLong()).putLong(MEM + 8, r.nextLong());
        };
    }

    /** operands(), with the memory operand a float, double, 80-bit value or integer of the given kind. */
    private static BiConsumer<Random, ByteBuffer> withMemory(char kind) {
        return (r, b) -> {
            operands().accept(r, b);
            switch (kind) {
                case 's' -> b.putInt(MEM, randomFloat(r));
                case 'l' -> b.putLong(MEM, randomDouble(r));
                case 't' -> putExtended(b, MEM, randomExtended(r));
                case 'w' -> b.putShort(MEM, (short) integer(r));
                case 'i' -> b.putInt(MEM, (int) integer(r));
                case 'q' -> b.putLong(MEM, integer(r));
                case 'b' -> { // packed BCD: 18 digits and a sign byte (now and then an invalid digit)
                    long digits = 0;
                    for (int i = 0; i < 16; i++) {
                        digits |= (long) r.nextInt(r.nextInt(20) == 0 ? 16 : 10) << (4 * i);
                    }
                    b.putLong(MEM, digits).put(MEM + 8, (byte) (r.nextInt(10) | r.nextInt(10) << 4))
                            .put(MEM + 9, (byte) (r.nextBoolean() ? 0x80 : 0));
                }
                default -> throw new IllegalArgumentException();
            }
        };
    }

    private static long integer(Random r) {
        return switch (r.nextInt(4)) {
            case 0 -> r.nextInt(201) - 100;
            case 1 -> r.nextLong() >> r.nextInt(64);
            case 2 -> (r.nextBoolean() ? -1L : 1L) << r.nextInt(64);
            default -> r.nextLong();
        };
    }

    /** ST0 near integers and the limits of 16, 32 and 64-bit integers (FIST, FISTTP, FRNDINT, FBSTP). */
    private static BiConsumer<Random, ByteBuffer> integral() {
        return (r, b) -> {
            operands().accept(r, b);
            if (r.nextInt(4) != 0) {
                int bits = new int[] {15, 31, 63, 59, 10, 2}[r.nextInt(6)];
                double half = (r.nextInt(9) - 4) / 2.0;
                java.math.BigDecimal v = new java.math.BigDecimal(java.math.BigInteger.ONE.shiftLeft(bits))
                        .add(java.math.BigDecimal.valueOf(half + r.nextInt(5) - 2));
                if (r.nextBoolean()) {
                    v = v.negate();
                }
                if (r.nextInt(3) == 0) {
                    v = java.math.BigDecimal.valueOf(r.nextInt(41) - 20).divide(java.math.BigDecimal.valueOf(4));
                }
                putExtended(b, V0, extended(v));
            }
        };
    }

    /** The exact 80-bit encoding of a dyadic decimal (the values integral() makes are all exact). */
    private static long[] extended(java.math.BigDecimal v) {
        if (v.signum() == 0) {
            return new long[] {0, 0};
        }
        java.math.BigDecimal scaled = v.abs().multiply(java.math.BigDecimal.valueOf(4));
        java.math.BigInteger m = scaled.toBigIntegerExact();
        int length = m.bitLength();
        long sig = m.shiftLeft(64 - length).longValue();
        int exp = 0x3fff + length - 1 - 2;
        return new long[] {sig, (v.signum() < 0 ? 0x8000 : 0) | exp};
    }

    private static String bytes(int... values) {
        StringBuilder s = new StringBuilder(".byte ");
        for (int i = 0; i < values.length; i++) {
            s.append(i == 0 ? "" : ", ").append("0x").append(Integer.toHexString(values[i]));
        }
        return s.toString();
    }

    /** The 80-bit value at {@code offset} as a BigDecimal (finite values only). */
    private static java.math.BigDecimal value(ByteBuffer b, int offset) {
        SoftFloat.Num n = SoftFloat.fromExtended(b.getLong(offset), b.getShort(offset + 8) & 0xffff);
        if (n.kind() == SoftFloat.ZERO) {
            return java.math.BigDecimal.ZERO;
        }
        return X87Math.binary(SoftFloat.unsigned(n.sig()), n.exp()).multiply(java.math.BigDecimal.valueOf(n.neg() ? -1 : 1));
    }

    /**
     * The transcendental instructions over ordinary operands: the interpreter rounds the (nearly) exact
     * value correctly, Intel's microcode gets within an ulp of it, so the results may differ in the last
     * bit, and C1 with them; everything else must agree.
     */
    @Test
    void transcendentalsAgreeWithTheHostCpuToTheLastBit() throws Exception {
        FpDifferentialRig rig = new FpDifferentialRig("x87-transcendental", FpDifferentialRig.seedFor("x87-transcendental"));
        String[] ops = {"f2xm1", "fyl2x", "fyl2xp1", "fptan", "fpatan", "fsin", "fcos", "fsincos"};
        for (String op : ops) {
            rig.x87(op, op, 150, (r, b) -> {
                double x = switch (op) {
                    case "f2xm1" -> r.nextDouble(-1, 1);
                    case "fyl2xp1" -> r.nextDouble(-0.29, 0.29);
                    case "fyl2x" -> Math.scalb(r.nextDouble(), r.nextInt(100) - 50);
                    default -> r.nextGaussian() * (r.nextBoolean() ? 1 : 1000);
                };
                double y = r.nextGaussian() * 3;
                for (int slot = 0; slot < 2; slot++) {
                    SoftFloat.Num n = SoftFloat.fromDouble(Double.doubleToRawLongBits(slot == 0 ? x : y));
                    putExtended(b, slot == 0 ? V0 : V1, new long[] {SoftFloat.extendedSignificand(n) | (r.nextLong() & 0x7ff),
                            SoftFloat.extendedSignExponent(n)});
                }
                b.putShort(FCW, (short) (0x037f | (r.nextInt(4) << 10)));
            });
        }
        FpDifferentialRig.Outputs outputs = rig.runOnEveryEngine();
        int lastBit = 0;
        for (var oracle : outputs.oracles().entrySet()) {
        for (FpDifferentialRig.Test t : rig.tests()) {
            for (int r = 0; r < t.records; r++) {
                ByteBuffer kvm = rig.output(oracle.getValue(), t, r);
                ByteBuffer interp = rig.output(outputs.interpreter(), t, r);
                String where = oracle.getKey() + ": " + t.name + " record " + r + " in " + java.util.HexFormat.of().formatHex(rig.input(t, r).array(),
                        rig.input(t, r).arrayOffset(), rig.input(t, r).arrayOffset() + 32);
                int c1 = 0x200;
                assertEquals(kvm.getShort(0x30) & ~c1, interp.getShort(0x30) & ~c1, where + ": status word less C1");
                for (int i = 0; i < 2; i++) {
                    int offset = FpDifferentialRig.SAVE + 28 + 10 * i;
                    if (kvm.getLong(offset) == interp.getLong(offset) && kvm.getShort(offset + 8) == interp.getShort(offset + 8)) {
                        continue;
                    }
                    lastBit++;
                    java.math.BigDecimal a = value(kvm, offset);
                    java.math.BigDecimal b = value(interp, offset);
                    java.math.BigDecimal ulp = a.abs().multiply(new java.math.BigDecimal("1.1e-19"));
                    org.junit.jupiter.api.Assertions.assertTrue(a.subtract(b).abs().compareTo(ulp) <= 0,
                            where + ": ST" + i + " oracle " + a + ", interp " + b);
                }
            }
        }
        }
        System.out.printf("x87 transcendentals: %d results differ in the last bit%n", lastBit);
    }

    /** An unmasked x87 exception is pending (ES) until the next waiting x87 instruction raises #MF (16). */
    @Test
    void pendingUnmaskedExceptionsRaiseMf() throws Exception {
        String[] bodies = {
                "fdiv %st(1), %st; fnstsw %ax; fld1", // ZE unmasked: #MF at FLD1
                "fsqrt; fnop", // IE unmasked on sqrt(-1): FNOP waits
                "fdiv %st(1), %st; fnclex; fld1", // cleared: no #MF
        };
        for (String body : bodies) {
            FpDifferentialRig rig = new FpDifferentialRig("x87-mf", 1);
            rig.x87(body, body, 2, (r, b) -> {
                putExtended(b, V0, new long[] {0x8000_0000_0000_0000L, body.startsWith("fsqrt") ? 0xbfff : 0x3fff});
                putExtended(b, V1, new long[] {0, 0});
                b.putShort(FCW, (short) 0x0372);
            });
            java.util.Map<String, String> faults = rig.faultsOnEveryEngine();
            String interp = faults.remove("interp");
            faults.forEach((oracle, fault) -> {
                org.junit.jupiter.api.Assertions.assertEquals(fault, interp, body + ": " + oracle + ", interpreter");
                org.junit.jupiter.api.Assertions.assertEquals(!body.contains("fnclex"), fault.startsWith("exception vector 16"), fault);
            });
        }
    }

    @Test
    void x87AgreesWithTheHostCpu() throws Exception {
        FpDifferentialRig rig = new FpDifferentialRig("x87", FpDifferentialRig.seedFor("x87"));
        String[] groups = {"add", "mul", "com", "comp", "sub", "subr", "div", "divr"};
        for (int g : new int[] {0, 1, 4, 5, 6, 7}) {
            // Register forms by encoding: D8 (ST0 = ST0 op ST1), DC (ST1 = ...), DE (ST1 = ..., pop), and with ST0.
            rig.x87("f" + groups[g] + " D8 st1", bytes(0xd8, 0xc1 + 8 * g), RECORDS, operands());
            rig.x87("f" + groups[g] + " DC st1", bytes(0xdc, 0xc1 + 8 * g), RECORDS / 2, operands());
            rig.x87("f" + groups[g] + " DE st1", bytes(0xde, 0xc1 + 8 * g), RECORDS / 2, operands());
            rig.x87("f" + groups[g] + " D8 st0", bytes(0xd8, 0xc0 + 8 * g), 30, operands());
            rig.x87("f" + groups[g] + "s m32", "f" + groups[g] + "s 0x20(%r13)", RECORDS / 2, withMemory('s'));
            rig.x87("f" + groups[g] + "l m64", "f" + groups[g] + "l 0x20(%r13)", RECORDS / 2, withMemory('l'));
            rig.x87("fi" + groups[g] + "s m16", "fi" + groups[g] + "s 0x20(%r13)", 60, withMemory('w'));
            rig.x87("fi" + groups[g] + "l m32", "fi" + groups[g] + "l 0x20(%r13)", 60, withMemory('i'));
        }
        String[] compares = {
                "fcom %st(1)", "fcomp %st(1)", "fcompp", "fucom %st(1)", "fucomp %st(1)", "fucompp",
                "fcomi %st(1), %st", "fcomip %st(1), %st", "fucomi %st(1), %st", "fucomip %st(1), %st", "ftst", "fxam",
                bytes(0xdc, 0xd1), bytes(0xdc, 0xd9), bytes(0xde, 0xd1), // FCOM2, FCOMP3, FCOMP5 aliases
        };
        for (String c : compares) {
            rig.x87(c, c, RECORDS / 2, operands());
        }
        rig.x87("fcoms m32", "fcoms 0x20(%r13)", 100, withMemory('s'));
        rig.x87("fcompl m64", "fcompl 0x20(%r13)", 100, withMemory('l'));
        rig.x87("ficoms m16", "ficoms 0x20(%r13)", 60, withMemory('w'));
        rig.x87("ficompl m32", "ficompl 0x20(%r13)", 60, withMemory('i'));
        rig.x87("fxam empty", "ffree %st(0); fxam", 20, operands());
        for (String op : new String[] {"fchs", "fabs", "fsqrt", "frndint", "fscale", "fxtract", "fprem", "fprem1"}) {
            rig.x87(op, op, RECORDS, op.equals("frndint") ? integral() : operands());
        }
        rig.x87("fscale small", "fscale", RECORDS, (r, b) -> {
            operands().accept(r, b);
            double n = r.nextInt(4) == 0 ? r.nextInt(70001) - 35000 : (r.nextInt(401) - 200) / 3.0;
            putExtended(b, V1, extended(new java.math.BigDecimal(n).setScale(2, java.math.RoundingMode.DOWN)
                    .multiply(java.math.BigDecimal.valueOf(4)).setScale(0, java.math.RoundingMode.DOWN)
                    .divide(java.math.BigDecimal.valueOf(4))));
        });
        rig.x87("fprem near", "fprem", RECORDS, (r, b) -> {
            operands().accept(r, b);
            long[] a = {0x8000_0000_0000_0000L | r.nextLong(), 0x3fff + r.nextInt(140)};
            long[] c = {0x8000_0000_0000_0000L | r.nextLong(), 0x3fff};
            putExtended(b, V0, a);
            putExtended(b, V1, c);
        });
        rig.x87("fprem1 near", "fprem1", RECORDS, (r, b) -> {
            operands().accept(r, b);
            long[] a = {0x8000_0000_0000_0000L | r.nextLong(), 0x3fff + r.nextInt(70)};
            long[] c = {0x8000_0000_0000_0000L | (r.nextBoolean() ? 0 : r.nextLong()), 0x3fff};
            putExtended(b, V0, a);
            putExtended(b, V1, c);
        });
        String[] moves = {
                "fxch %st(1)", "fld %st(1)", "fld %st(0)", "fst %st(1)", "fstp %st(1)", "fstp %st(0)", "ffree %st(1)",
                "fincstp", "fdecstp", "fnop", bytes(0xdf, 0xc1), /* FFREEP */ bytes(0xd9, 0xd9), /* FSTP1 */
                bytes(0xdd, 0xc9), /* FXCH4 */ "fxch %st(5)", "fld %st(4)", "fst %st(6)", "fxch %st(2)",
                "fld1", "fldz", "fldpi", "fldl2t", "fldl2e", "fldlg2", "fldln2",
                "fld1; fld1; fld1; fld1; fld1; fld1; fld1", // the seventh overflows the stack
                "fstp %st(0); fstp %st(0); fadd %st(1), %st", // underflow
                "fstp %st(0); fstp %st(0); fchs", "fstp %st(0); fxch %st(1)", "fstp %st(0); fstp %st(0); fsqrt",
                "fstp %st(0); fcom %st(1)", "fstp %st(0); fcomi %st(1), %st", "fstp %st(0); fstp %st(0); frndint",
                "fnstsw %ax", "fnclex", "fninit", "fnstcw 0x20(%r14)", "fldcw 0x20(%r13); fnstcw 0x22(%r14)",
                "fnstenv 0x50(%r14); fldenv 0x50(%r14)", "fnsave 0x50(%r14); frstor 0x50(%r14)",
                "fnsave 0x50(%r14)", "data16 fnstenv 0x50(%r14)",
        };
        for (String m : moves) {
            // FNSTENV/FNSAVE in the body store to 0x50: their instruction and data pointers are not compared.
            rig.x87(m, m, 30, operands()).ignore(m.startsWith("data16") ? 0x56 : 0x5c, m.startsWith("data16") ? 0x5e : 0x6c);
        }
        for (String cmov : new String[] {"fcmovb", "fcmove", "fcmovbe", "fcmovu", "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu"}) {
            rig.x87(cmov, cmov + " %st(1), %st", 30, operands());
        }
        rig.x87("fcmov empty", "ffree %st(1); fcmovb %st(1), %st", 20, operands());
        String[][] loads = {
                {"flds 0x20(%r13)", "s"}, {"fldl 0x20(%r13)", "l"}, {"fldt 0x20(%r13)", "t"},
                {"filds 0x20(%r13)", "w"}, {"fildl 0x20(%r13)", "i"}, {"fildll 0x20(%r13)", "q"}, {"fbld 0x20(%r13)", "b"},
        };
        for (String[] load : loads) {
            rig.x87(load[0], load[0], RECORDS / 2, withMemory(load[1].charAt(0)));
        }
        String[] stores = {
                "fsts 0x20(%r14)", "fstps 0x20(%r14)", "fstl 0x20(%r14)", "fstpl 0x20(%r14)", "fstpt 0x20(%r14)",
                "fists 0x20(%r14)", "fistps 0x20(%r14)", "fistl 0x20(%r14)", "fistpl 0x20(%r14)", "fistpll 0x20(%r14)",
                "fisttps 0x20(%r14)", "fisttpl 0x20(%r14)", "fisttpll 0x20(%r14)", "fbstp 0x20(%r14)",
        };
        for (String store : stores) {
            rig.x87(store, store, RECORDS, store.startsWith("fist") || store.startsWith("fb") ? integral() : operands());
        }
        rig.x87("fstps general", "fstps 0x20(%r14)", RECORDS, integral());
        rig.x87("fstp empty", "fstp %st(0); fstp %st(0); fstpl 0x20(%r14)", 20, operands());
        // Transcendental instructions: special operands only (the interpreter computes them in double).
        for (String op : new String[] {"f2xm1", "fyl2x", "fyl2xp1", "fptan", "fpatan", "fsin", "fcos", "fsincos"}) {
            rig.x87(op + " specials", op, 30, (r, b) -> {
                operands().accept(r, b);
                long top = 0x8000_0000_0000_0000L;
                long[][] specials = {{0, 0}, {0, 0x8000}, {top, 0x7fff}, {top, 0xffff}, {top | 1L << 62, 0x7fff},
                        {top | 5, 0xffff}, {0x4000_0000_0000_0000L, 0x3fff}};
                putExtended(b, V0, specials[r.nextInt(specials.length)]);
                if (op.equals("fyl2x") || op.equals("fpatan") || op.equals("fyl2xp1")) {
                    putExtended(b, V1, specials[r.nextInt(specials.length)]);
                }
                b.putShort(FCW, (short) 0x037f);
            });
        }
        rig.x87("fsin big", "fsin", 10, (r, b) -> {
            operands().accept(r, b);
            putExtended(b, V0, new long[] {0x8000_0000_0000_0000L | r.nextLong(), 0x3fff + 63 + r.nextInt(100)});
        });
        rig.x87("fnstsw ax flags", "fcom %st(1); fnstsw %ax; sahf", 40, (r, b) -> {
            operands().accept(r, b);
            b.putLong(RAX, r.nextLong());
        });
        // FXSAVE/FXRSTOR (the image is at 0x3e0000): the ST slots are in stack order, the tag abridged.
        rig.x87("fxsave st slots", "fxsave 0x3e0000; fldt 0x3e0020; fldt 0x3e0040", 30, operands());
        rig.x87("fxsave header", "fxsave 0x3e0000; movzbl 0x3e0004, %ecx; shl $32, %rcx; mov 0x3e0000, %eax; or %rcx, %rax",
                30, operands());
        rig.x87("fxsave fxrstor", "fxsave 0x3e0000; fninit; fld1; fxrstor 0x3e0000", 30, operands());
        rig.x87("fnsave frstor stack", "fld1; fnsave 0x3e0000; fninit; frstor 0x3e0000", 30, operands());
        // FPREM/FPREM1 whose result is the dividend itself (a modulus of infinity or far larger): a denormal or
        // pseudo-denormal dividend with DE and UE masked or not, which the random control words above seldom
        // combine (a tiny result underflows with UE unmasked, as any other result; seed 8 once found it).
        for (String op : new String[] {"fprem", "fprem1"}) {
            rig.x87(op + " tiny dividend", op, 60, (r, b) -> {
                operands().accept(r, b);
                int sign = r.nextBoolean() ? 0x8000 : 0;
                long top = 0x8000_0000_0000_0000L;
                long[] dividend = switch (r.nextInt(4)) {
                    case 0 -> new long[] {r.nextLong() >>> 1 >>> r.nextInt(63), sign}; // denormal
                    case 1 -> new long[] {top | r.nextLong(), sign}; // pseudo-denormal
                    case 2 -> new long[] {top | r.nextLong(), sign | 1}; // the smallest normals
                    default -> new long[] {0, sign};
                };
                putExtended(b, V0, dividend);
                putExtended(b, V1, r.nextBoolean() ? new long[] {top, (r.nextBoolean() ? 0x8000 : 0) | 0x7fff}
                        : new long[] {top | r.nextLong(), (r.nextBoolean() ? 0x8000 : 0) | (0x3fff + r.nextInt(100))});
                b.putShort(FCW, (short) (randomFcw(r) & ~((r.nextBoolean() ? 0x02 : 0) | (r.nextBoolean() ? 0x10 : 0))));
            });
        }
        rig.assertAgree();
    }
}
