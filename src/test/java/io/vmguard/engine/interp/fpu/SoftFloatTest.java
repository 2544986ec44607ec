package io.vmguard.engine.interp.fpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.interp.FpDifferentialRig;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link SoftFloat} on its own: round to nearest must give exactly what Java's IEEE double and float
 * arithmetic gives, directed rounding must bracket the exact (BigDecimal) value by adjacent numbers, and
 * the flags and 80-bit results must be the known ones.
 */
class SoftFloatTest {
    private final Random random = new Random(42);

    private long randomDouble() {
        long bits = FpDifferentialRig.randomDouble(random);
        return Double.isNaN(Double.longBitsToDouble(bits)) ? random.nextLong() & 0x7fef_ffff_ffff_ffffL : bits;
    }

    private static double run(SoftFloat soft, int op, long a, long b) {
        SoftFloat.Num x = SoftFloat.fromDouble(a);
        SoftFloat.Num y = SoftFloat.fromDouble(b);
        SoftFloat.Num r = switch (op) {
            case 0 -> soft.add(x, y, false, SoftFloat.DOUBLE, 53);
            case 1 -> soft.add(x, y, true, SoftFloat.DOUBLE, 53);
            case 2 -> soft.mul(x, y, SoftFloat.DOUBLE, 53);
            case 3 -> soft.div(x, y, SoftFloat.DOUBLE, 53);
            default -> soft.sqrt(y, SoftFloat.DOUBLE, 53);
        };
        return r == null ? Double.NaN : Double.longBitsToDouble(SoftFloat.toDouble(r));
    }

    private static double java(int op, double a, double b) {
        return switch (op) {
            case 0 -> a + b;
            case 1 -> a - b;
            case 2 -> a * b;
            case 3 -> a / b;
            default -> Math.sqrt(b);
        };
    }

    @Test
    void roundToNearestIsJavasDoubleArithmetic() {
        SoftFloat soft = new SoftFloat();
        for (int i = 0; i < 100_000; i++) {
            long a = randomDouble();
            long b = random.nextInt(3) == 0 ? FpDifferentialRig.relatedDouble(random, a) : randomDouble();
            if (Double.isNaN(Double.longBitsToDouble(b))) {
                continue;
            }
            int op = random.nextInt(5);
            double expected = java(op, Double.longBitsToDouble(a), Double.longBitsToDouble(b));
            double actual = run(soft, op, a, b);
            if (!(Double.isNaN(expected) && Double.isNaN(actual))) {
                assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(actual),
                        () -> "op " + op + " of " + Long.toHexString(a) + ", " + Long.toHexString(b));
            }
        }
    }

    @Test
    void singlesRoundLikeJavaFloats() {
        SoftFloat soft = new SoftFloat();
        for (int i = 0; i < 50_000; i++) {
            int a = FpDifferentialRig.randomFloat(random);
            int b = FpDifferentialRig.randomFloat(random);
            float fa = Float.intBitsToFloat(a);
            float fb = Float.intBitsToFloat(b);
            if (Float.isNaN(fa) || Float.isNaN(fb)) {
                continue;
            }
            SoftFloat.Num r = soft.mul(SoftFloat.fromSingle(a), SoftFloat.fromSingle(b), SoftFloat.SINGLE, 24);
            float expected = fa * fb;
            if (r != null) {
                assertEquals(Float.floatToRawIntBits(expected), SoftFloat.toSingle(r));
            }
            SoftFloat.Num q = soft.div(SoftFloat.fromSingle(a), SoftFloat.fromSingle(b), SoftFloat.SINGLE, 24);
            if (q != null) {
                assertEquals(Float.floatToRawIntBits(fa / fb), SoftFloat.toSingle(q));
            }
        }
    }

    @Test
    void directedRoundingBracketsTheExactValue() {
        SoftFloat soft = new SoftFloat();
        for (int i = 0; i < 5_000; i++) {
            long a = randomDouble();
            long b = randomDouble();
            double x = Double.longBitsToDouble(a);
            double y = Double.longBitsToDouble(b);
            int op = random.nextInt(3);
            if (Double.isInfinite(x) || Double.isInfinite(y) || (op == 2 && y == 0)) {
                continue;
            }
            BigDecimal exact = switch (op) {
                case 0 -> new BigDecimal(x).add(new BigDecimal(y));
                case 1 -> new BigDecimal(x).multiply(new BigDecimal(y));
                default -> new BigDecimal(x).divide(new BigDecimal(y), new MathContext(1200));
            };
            int code = op == 0 ? 0 : op == 1 ? 2 : 3;
            soft.rc = SoftFloat.RD;
            double down = run(soft, code, a, b);
            soft.rc = SoftFloat.RU;
            double up = run(soft, code, a, b);
            soft.rc = SoftFloat.RN;
            if (Double.isInfinite(down) || Double.isInfinite(up)) {
                continue;
            }
            assertTrue(new BigDecimal(down).compareTo(exact) <= 0 && new BigDecimal(up).compareTo(exact) >= 0,
                    () -> "bracket of " + x + " op " + op + " " + y);
            boolean exactlyRepresentable = new BigDecimal(down).compareTo(exact) == 0;
            if (exactlyRepresentable) {
                assertTrue(down == up, () -> x + " op " + op + " " + y);
            } else {
                assertEquals(Math.nextUp(down), up, () -> x + " op " + op + " " + y);
            }
        }
    }

    @Test
    void flagsAndSpecialResults() {
        SoftFloat soft = new SoftFloat();
        SoftFloat.Num one = SoftFloat.fromDouble(Double.doubleToRawLongBits(1.0));
        SoftFloat.Num zero = SoftFloat.zero(false);
        SoftFloat.Num inf = SoftFloat.inf(false);
        soft.flags = 0;
        assertEquals(SoftFloat.INF, soft.div(one, zero, SoftFloat.DOUBLE, 53).kind());
        assertEquals(SoftFloat.ZE, soft.flags);
        assertNull(soft.add(inf, inf.negate(), false, SoftFloat.DOUBLE, 53), "inf - inf is invalid");
        assertNull(soft.mul(zero, inf, SoftFloat.DOUBLE, 53), "0 x inf is invalid");
        assertNull(soft.sqrt(one.negate(), SoftFloat.DOUBLE, 53), "sqrt(-1) is invalid");
        // x - x is +0, except -0 when rounding down.
        assertEquals(false, soft.add(one, one, true, SoftFloat.DOUBLE, 53).neg());
        soft.rc = SoftFloat.RD;
        assertEquals(true, soft.add(one, one, true, SoftFloat.DOUBLE, 53).neg());
        soft.rc = SoftFloat.RN;
        // The smallest denormal halved: tiny and inexact, rounds to zero (ties to even).
        soft.flags = 0;
        SoftFloat.Num tiny = SoftFloat.fromDouble(1);
        SoftFloat.Num half = SoftFloat.fromDouble(Double.doubleToRawLongBits(0.5));
        assertEquals(SoftFloat.ZERO, soft.mul(tiny, half, SoftFloat.DOUBLE, 53).kind());
        assertEquals(SoftFloat.UE | SoftFloat.PE, soft.flags);
        // Overflow: infinity to nearest, the largest finite toward zero.
        soft.flags = 0;
        SoftFloat.Num max = SoftFloat.fromDouble(Double.doubleToRawLongBits(Double.MAX_VALUE));
        assertEquals(SoftFloat.INF, soft.add(max, max, false, SoftFloat.DOUBLE, 53).kind());
        assertEquals(SoftFloat.OE | SoftFloat.PE, soft.flags);
        soft.rc = SoftFloat.RZ;
        assertEquals(Double.doubleToRawLongBits(Double.MAX_VALUE), SoftFloat.toDouble(soft.add(max, max, false, SoftFloat.DOUBLE, 53)));
        soft.rc = SoftFloat.RN;
        // 80-bit: 1/3 = 0.AAAA...AB, and 2^64 - 1 rounds up to 2^64 through the carry.
        SoftFloat.Num three = SoftFloat.fromDouble(Double.doubleToRawLongBits(3.0));
        SoftFloat.Num third = soft.div(one, three, SoftFloat.EXTENDED, 64);
        assertEquals(0xaaaa_aaaa_aaaa_aaabL, SoftFloat.extendedSignificand(third));
        assertEquals(0x3ffd, SoftFloat.extendedSignExponent(third));
        SoftFloat.Num big = soft.round(false, SoftFloat.unsigned(-1L).shiftLeft(1).add(java.math.BigInteger.ONE), 0,
                SoftFloat.EXTENDED, 64);
        assertEquals(0x8000_0000_0000_0000L, SoftFloat.extendedSignificand(big));
        assertEquals(0x3fff + 65, SoftFloat.extendedSignExponent(big));
        // Unsupported 80-bit encodings and pseudo-denormals.
        assertEquals(SoftFloat.UNSUPPORTED, SoftFloat.fromExtended(0x4000_0000_0000_0000L, 0x3fff).kind());
        assertEquals(SoftFloat.UNSUPPORTED, SoftFloat.fromExtended(0x4000_0000_0000_0000L, 0x7fff).kind());
        SoftFloat.Num pseudo = SoftFloat.fromExtended(0x8000_0000_0000_0000L, 0);
        assertTrue(pseudo.denormal());
        assertEquals(0, SoftFloat.compare(pseudo, SoftFloat.fromExtended(0x8000_0000_0000_0000L, 1)));
    }
}
