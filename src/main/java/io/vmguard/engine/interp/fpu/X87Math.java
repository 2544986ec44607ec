package io.vmguard.engine.interp.fpu;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * The x87's transcendental functions to far more than extended precision (60 decimal digits, about 200
 * bits), for {@link X87Unit} to round once to the 64-bit significand: results are correctly rounded
 * (hardware's are within an ulp of that, so an occasional last-bit difference remains). Like the hardware,
 * FSIN/FCOS/FPTAN/FSINCOS reduce their argument with the 66-bit pi of Intel's FPU, so that large
 * arguments give the hardware's answers, not the mathematically exact ones.
 *
 * <p>Every result is an {@link Approx}: a value v x 2^scale with v a BigDecimal of moderate magnitude, so
 * that operands anywhere in the 80-bit range never turn into huge decimal expansions. Operands far below
 * the precision that matters are handled by the leading term of the series, nudged by a relative 10^-70
 * in the direction of the next term so that directed rounding and the precision flag still come out right.
 */
public final class X87Math {
    private X87Math() {}

    static final MathContext MC = new MathContext(60, RoundingMode.HALF_EVEN);
    private static final BigDecimal EPSILON = new BigDecimal("1e-70");
    private static final BigDecimal TWO = BigDecimal.valueOf(2);

    /** pi to 128 bits (truncated), from X87Unit's constant. */
    static final BigDecimal PI = binary(new BigInteger("c90fdaa22168c234c4c6628b80dc1cd1", 16), 2 - 128);
    /** The 66-bit pi (0xC90FDAA22168C234C x 2^-66) the FPU reduces trigonometric arguments with. */
    private static final BigDecimal HALF_PI_FPU = binary(new BigInteger("c90fdaa22168c234c", 16), 2 - 68 - 1);
    static final BigDecimal LN2 = atanh(BigDecimal.ONE.divide(BigDecimal.valueOf(3), MC)).multiply(TWO, MC);
    private static final BigDecimal SQRT_HALF = BigDecimal.valueOf(0.5).sqrt(MC);

    /** v x 2^scale. */
    record Approx(BigDecimal v, int scale) {}

    /** An exact binary number mag x 2^exp as a BigDecimal (exp of moderate size). */
    public static BigDecimal binary(BigInteger mag, int exp) {
        BigDecimal m = new BigDecimal(mag);
        return exp >= 0 ? m.multiply(new BigDecimal(BigInteger.ONE.shiftLeft(exp)))
                : m.divide(new BigDecimal(BigInteger.ONE.shiftLeft(-exp)));
    }

    /** The significand of a finite number as an exact integer BigDecimal, with its sign. */
    private static BigDecimal significand(SoftFloat.Num n) {
        BigDecimal m = new BigDecimal(SoftFloat.unsigned(n.sig()));
        return n.neg() ? m.negate() : m;
    }

    /** The exponent of the leading bit of a finite non-zero number. */
    static int top(SoftFloat.Num n) {
        return 63 - Long.numberOfLeadingZeros(n.sig()) + n.exp();
    }

    /** A finite number's exact value, if its exponent is moderate. */
    private static BigDecimal value(SoftFloat.Num n) {
        return binary(SoftFloat.unsigned(n.sig()), n.exp()).multiply(n.neg() ? BigDecimal.ONE.negate() : BigDecimal.ONE);
    }

    private static BigDecimal nudge(BigDecimal v, int direction) {
        return v.multiply(BigDecimal.ONE.add(direction > 0 ? EPSILON : EPSILON.negate()), MC);
    }

    // ---- series ----

    /** atanh(t) = t + t^3/3 + t^5/5 + ..., for |t| <= 1/3. */
    private static BigDecimal atanh(BigDecimal t) {
        BigDecimal t2 = t.multiply(t, MC);
        BigDecimal power = t;
        BigDecimal sum = t;
        for (int k = 3; ; k += 2) {
            power = power.multiply(t2, MC);
            BigDecimal term = power.divide(BigDecimal.valueOf(k), MC);
            if (term.signum() == 0 || term.abs().compareTo(sum.abs().scaleByPowerOfTen(-64)) < 0) {
                return sum;
            }
            sum = sum.add(term, MC);
        }
    }

    /** atan(t) = t - t^3/3 + t^5/5 - ..., for |t| <= 0.2. */
    private static BigDecimal atanSeries(BigDecimal t) {
        BigDecimal t2 = t.multiply(t, MC).negate();
        BigDecimal power = t;
        BigDecimal sum = t;
        for (int k = 3; ; k += 2) {
            power = power.multiply(t2, MC);
            BigDecimal term = power.divide(BigDecimal.valueOf(k), MC);
            if (term.signum() == 0 || term.abs().compareTo(sum.abs().scaleByPowerOfTen(-64)) < 0) {
                return sum;
            }
            sum = sum.add(term, MC);
        }
    }

    /** sin(r) (cosine = false) or cos(r) by Taylor series, |r| <= pi/4. */
    private static BigDecimal sinCos(BigDecimal r, boolean cosine) {
        BigDecimal r2 = r.multiply(r, MC).negate();
        BigDecimal term = cosine ? BigDecimal.ONE : r;
        BigDecimal sum = term;
        for (int k = cosine ? 1 : 2; ; k += 2) {
            term = term.multiply(r2, MC).divide(BigDecimal.valueOf((long) k * (k + 1)), MC);
            if (term.signum() == 0 || term.abs().compareTo(sum.abs().scaleByPowerOfTen(-64)) < 0) {
                return sum;
            }
            sum = sum.add(term, MC);
        }
    }

    /** e^x - 1 by Taylor series, |x| <= 1. */
    private static BigDecimal expm1(BigDecimal x) {
        BigDecimal term = x;
        BigDecimal sum = x;
        for (int k = 2; ; k++) {
            term = term.multiply(x, MC).divide(BigDecimal.valueOf(k), MC);
            if (term.signum() == 0 || term.abs().compareTo(sum.abs().scaleByPowerOfTen(-64)) < 0) {
                return sum;
            }
            sum = sum.add(term, MC);
        }
    }

    /** atan(z) for any z. */
    private static BigDecimal atan(BigDecimal z) {
        if (z.abs().compareTo(BigDecimal.ONE) > 0) {
            BigDecimal halfPi = PI.divide(TWO, MC);
            BigDecimal inner = atan(BigDecimal.ONE.divide(z, MC));
            return z.signum() > 0 ? halfPi.subtract(inner, MC) : halfPi.negate().subtract(inner, MC);
        }
        // Two halvings (atan z = 2 atan(z / (1 + sqrt(1 + z^2)))) bring |z| below tan(pi/16) < 0.2.
        BigDecimal t = z;
        for (int i = 0; i < 2; i++) {
            t = t.divide(BigDecimal.ONE.add(BigDecimal.ONE.add(t.multiply(t, MC)).sqrt(MC)), MC);
        }
        return atanSeries(t).multiply(BigDecimal.valueOf(4), MC);
    }

    // ---- the instructions ----

    /** F2XM1: 2^x - 1, for finite non-zero |x| <= 1 other than +-1. */
    static Approx twoToXMinusOne(SoftFloat.Num x) {
        if (top(x) < -200) {
            // 2^x - 1 = x ln2 (1 + x ln2 / 2 + ...): the correction is far below the last bit.
            return new Approx(nudge(significand(x).multiply(LN2, MC), x.neg() ? -1 : 1), x.exp());
        }
        return new Approx(expm1(value(x).multiply(LN2, MC)), 0);
    }

    /** FYL2X: y log2(x) for finite x > 0 that is not a power of two, finite non-zero y. */
    static Approx yLog2X(SoftFloat.Num x, SoftFloat.Num y) {
        SoftFloat.Num n = SoftFloat.normalized(false, x.sig(), x.exp());
        int e = top(n);
        BigDecimal m = binary(SoftFloat.unsigned(n.sig()), -63); // in [1, 2)
        if (m.compareTo(SQRT_HALF.multiply(TWO)) > 0) {
            m = m.divide(TWO, MC);
            e++;
        }
        BigDecimal t = m.subtract(BigDecimal.ONE).divide(m.add(BigDecimal.ONE), MC);
        BigDecimal log2 = atanh(t).multiply(TWO, MC).divide(LN2, MC).add(BigDecimal.valueOf(e), MC);
        return new Approx(significand(y).multiply(log2, MC), y.exp());
    }

    /** FYL2XP1: y log2(1 + x) for finite non-zero x with |x| <= 1 and finite non-zero y. */
    static Approx yLog2XPlusOne(SoftFloat.Num x, SoftFloat.Num y) {
        if (top(x) < -200) {
            // ln(1 + x) = x - x^2/2 + ...: smaller than x in magnitude when x > 0, larger when x < 0.
            BigDecimal v = significand(x).multiply(significand(y), MC).divide(LN2, MC);
            return new Approx(nudge(v, x.neg() ? 1 : -1), x.exp() + y.exp());
        }
        BigDecimal xv = value(x);
        BigDecimal ln = atanh(xv.divide(TWO.add(xv), MC)).multiply(TWO, MC);
        return new Approx(significand(y).multiply(ln.divide(LN2, MC), MC), y.exp());
    }

    /** FPATAN: atan2(y, x) for finite non-zero x and y. */
    static Approx arctangent(SoftFloat.Num y, SoftFloat.Num x) {
        int difference = top(y) - top(x);
        int sign = y.neg() ? -1 : 1;
        if (difference < -200) {
            if (!x.neg()) { // y/x (1 - (y/x)^2/3)
                BigDecimal ratio = significand(y).divide(significand(x), MC);
                return new Approx(nudge(ratio, -1), y.exp() - x.exp());
            }
            return new Approx(nudge(PI, -1).multiply(BigDecimal.valueOf(sign)), 0); // +-(pi - tiny)
        }
        if (difference > 200) { // +-(pi/2 -+ x/y)
            return new Approx(nudge(PI.divide(TWO, MC), x.neg() ? 1 : -1).multiply(BigDecimal.valueOf(sign)), 0);
        }
        // Scale both by the same power of two: only the ratio matters.
        BigDecimal yv = binary(SoftFloat.unsigned(y.sig()), y.exp() - x.exp()).multiply(BigDecimal.valueOf(sign));
        BigDecimal xv = significand(x);
        BigDecimal a = atan(yv.divide(xv, MC));
        if (x.neg()) {
            a = sign > 0 ? a.add(PI, MC) : a.subtract(PI, MC);
        }
        return new Approx(a, 0);
    }

    /** sin (0), cos (1) or tan (2) of a finite non-zero x with |x| < 2^63, after the FPU's reduction. */
    static Approx trigonometric(SoftFloat.Num x, int function) {
        if (top(x) < -200) { // sin x = x (1 - x^2/6), tan x = x (1 + x^2/3), cos x = 1 - x^2/2
            return switch (function) {
                case 0 -> new Approx(nudge(significand(x), -1), x.exp());
                case 1 -> new Approx(nudge(BigDecimal.ONE, -1), 0);
                default -> new Approx(nudge(significand(x), 1), x.exp());
            };
        }
        BigDecimal xv = value(x);
        BigDecimal n = xv.divide(HALF_PI_FPU, MC).setScale(0, RoundingMode.HALF_EVEN);
        BigDecimal r = xv.subtract(n.multiply(HALF_PI_FPU)); // exact
        int quadrant = n.toBigInteger().intValue() & 3;
        BigDecimal sin = sinCos(r, false);
        BigDecimal cos = sinCos(r, true);
        BigDecimal s = switch (quadrant) {
            case 0 -> sin;
            case 1 -> cos;
            case 2 -> sin.negate();
            default -> cos.negate();
        };
        BigDecimal c = switch (quadrant) {
            case 0 -> cos;
            case 1 -> sin.negate();
            case 2 -> cos.negate();
            default -> sin;
        };
        return new Approx(switch (function) {
            case 0 -> s;
            case 1 -> c;
            default -> s.divide(c, MC);
        }, 0);
    }

    /** An approximation in binary: (-1)^negative x mag x 2^exp, mag with about 200 bits and a sticky low bit. */
    record Binary(boolean negative, BigInteger mag, int exp) {}

    /** The binary form of an approximation, for rounding (the value is never exactly representable). */
    static Binary toBinary(Approx a) {
        BigDecimal v = a.v();
        boolean negative = v.signum() < 0;
        v = v.abs();
        // Decimal exponent -> binary estimate; aim for about 200 bits of magnitude.
        int decimal = v.precision() - v.scale();
        int k = 200 - (int) Math.round(decimal * 3.321928094887362);
        BigDecimal scaled = k >= 0 ? v.multiply(new BigDecimal(BigInteger.ONE.shiftLeft(k)))
                : v.divide(new BigDecimal(BigInteger.ONE.shiftLeft(-k)), MC);
        BigInteger mag = scaled.toBigInteger().shiftLeft(1).setBit(0);
        return new Binary(negative, mag, a.scale() - k - 1);
    }
}
