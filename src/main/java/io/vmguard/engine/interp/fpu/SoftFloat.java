package io.vmguard.engine.interp.fpu;

import java.math.BigInteger;

/**
 * Exact binary floating point as x86 does it, for the formats SSE and the x87 use: every operation is
 * computed exactly (in {@link BigInteger} where it must) and then rounded once, under any of the four
 * rounding modes, to any precision within the single, double or extended exponent range, with the
 * exception flags x86 reports: invalid, divide-by-zero, overflow, underflow (tininess detected after
 * rounding, flag raised when the tiny result is also inexact, since underflow is masked), precision.
 *
 * <p>It is the slow, always-correct path: {@link SseUnit} uses Java's own arithmetic when that is provably
 * the same (round to nearest, normal operands and results) and comes here otherwise; {@link X87Unit}
 * computes everything here, because Java has no 64-bit-significand type.
 *
 * <p>NaN propagation and which operations are invalid differ between SSE and the x87 and are the callers'
 * business: the arithmetic here takes non-NaN operands and returns {@code null} for an invalid operation.
 */
public final class SoftFloat {
    /** Exception flags, in the bit order of MXCSR and the x87 status word. */
    static final int IE = 1, DE = 2, ZE = 4, OE = 8, UE = 16, PE = 32;
    /** Rounding control, encoded as in MXCSR.RC and the x87 control word. */
    static final int RN = 0, RD = 1, RU = 2, RZ = 3;

    public static final int ZERO = 0, FINITE = 1, INF = 2, NAN = 3, UNSUPPORTED = 4;

    /** A binary format: significand bits (with the leading one) and the normal exponent range. */
    record Format(int precision, int emin, int emax) {}

    static final Format SINGLE = new Format(24, -126, 127);
    static final Format DOUBLE = new Format(53, -1022, 1023);
    static final Format EXTENDED = new Format(64, -16382, 16383);

    static final long QUIET = 1L << 62;
    static final long INTEGER_BIT = 1L << 63;

    /**
     * An unpacked number. FINITE: (-1)^neg x sig x 2^exp, sig an unsigned non-zero long (normalized, bit 63
     * set, when it comes from {@link #round}). NAN: sig is the significand as the extended format holds it
     * (bit 63 set, bit 62 the quiet bit, payload below). {@code denormal}: the encoding it was unpacked from
     * was a denormal (or an extended pseudo-denormal).
     */
    public record Num(int kind, boolean neg, long sig, int exp, boolean denormal) {
        boolean isNaN() {
            return kind == NAN;
        }

        boolean isSignaling() {
            return kind == NAN && (sig & QUIET) == 0;
        }

        boolean isZero() {
            return kind == ZERO;
        }

        boolean isInf() {
            return kind == INF;
        }

        Num negate() {
            return new Num(kind, !neg, sig, exp, denormal);
        }

        Num withSign(boolean negative) {
            return new Num(kind, negative, sig, exp, denormal);
        }

        Num quiet() {
            return new Num(kind, neg, sig | QUIET, exp, false);
        }
    }

    static Num zero(boolean neg) {
        return neg ? NEG_ZERO : POS_ZERO;
    }

    static Num inf(boolean neg) {
        return new Num(INF, neg, INTEGER_BIT, 0, false);
    }

    private static final Num POS_ZERO = new Num(ZERO, false, 0, 0, false);
    private static final Num NEG_ZERO = new Num(ZERO, true, 0, 0, false);
    /** The "real indefinite" QNaN every x86 unit returns for an invalid operation. */
    static final Num DEFAULT_NAN = new Num(NAN, true, INTEGER_BIT | QUIET, 0, false);

    /** Rounding control for the next operations. */
    int rc = RN;
    /** SSE flush-to-zero: tiny results become zero (underflow is masked, as the SSE unit requires for it). */
    boolean ftz;
    /** Exception flags raised since the caller last cleared them. */
    int flags;

    // ---- packing and unpacking ----

    static Num fromSingle(int bits) {
        boolean neg = bits < 0;
        int biased = (bits >>> 23) & 0xff;
        long fraction = bits & 0x7fffffL;
        if (biased == 0) {
            return fraction == 0 ? zero(neg) : new Num(FINITE, neg, fraction, -149, true);
        }
        if (biased == 0xff) {
            return fraction == 0 ? inf(neg) : new Num(NAN, neg, INTEGER_BIT | (fraction << 40), 0, false);
        }
        return new Num(FINITE, neg, fraction | (1L << 23), biased - 150, false);
    }

    public static Num fromDouble(long bits) {
        boolean neg = bits < 0;
        int biased = (int) (bits >>> 52) & 0x7ff;
        long fraction = bits & 0xf_ffff_ffff_ffffL;
        if (biased == 0) {
            return fraction == 0 ? zero(neg) : new Num(FINITE, neg, fraction, -1074, true);
        }
        if (biased == 0x7ff) {
            return fraction == 0 ? inf(neg) : new Num(NAN, neg, INTEGER_BIT | (fraction << 11), 0, false);
        }
        return new Num(FINITE, neg, fraction | (1L << 52), biased - 1075, false);
    }

    /**
     * Unpacks an 80-bit value. Unnormals, pseudo-infinities and pseudo-NaNs (exponent non-zero, integer bit
     * clear) are UNSUPPORTED, which the x87 treats as an invalid operand; pseudo-denormals (exponent zero,
     * integer bit set) are denormals with the value their bits say.
     */
    public static Num fromExtended(long sig, int signExp) {
        boolean neg = (signExp & 0x8000) != 0;
        int biased = signExp & 0x7fff;
        if (biased == 0) {
            return sig == 0 ? zero(neg) : new Num(FINITE, neg, sig, -16445, true);
        }
        if ((sig & INTEGER_BIT) == 0) {
            return new Num(UNSUPPORTED, neg, sig, biased, false);
        }
        if (biased == 0x7fff) {
            return (sig << 1) == 0 ? inf(neg) : new Num(NAN, neg, sig, 0, false);
        }
        return new Num(FINITE, neg, sig, biased - 16383 - 63, false);
    }

    static int toSingle(Num n) {
        int sign = n.neg ? 0x8000_0000 : 0;
        return switch (n.kind) {
            case ZERO -> sign;
            case INF -> sign | 0x7f80_0000;
            case NAN, UNSUPPORTED -> sign | 0x7f80_0000 | (int) ((n.sig >>> 40) & 0x7fffff) | (n.sig == 0 ? 1 : 0);
            default -> {
                long sig = n.sig;
                int top = 63 - Long.numberOfLeadingZeros(sig) + n.exp;
                int shift = top >= -126 ? top - 23 - n.exp : -149 - n.exp;
                long fraction = shift >= 0 ? sig >>> shift : sig << -shift;
                int biased = top >= -126 ? top + 127 : 0;
                yield sign | (biased << 23) | (int) (fraction & 0x7fffff);
            }
        };
    }

    static long toDouble(Num n) {
        long sign = n.neg ? Long.MIN_VALUE : 0;
        return switch (n.kind) {
            case ZERO -> sign;
            case INF -> sign | 0x7ff0_0000_0000_0000L;
            case NAN, UNSUPPORTED -> sign | 0x7ff0_0000_0000_0000L | ((n.sig >>> 11) & 0xf_ffff_ffff_ffffL);
            default -> {
                long sig = n.sig;
                int top = 63 - Long.numberOfLeadingZeros(sig) + n.exp;
                int shift = top >= -1022 ? top - 52 - n.exp : -1074 - n.exp;
                long fraction = shift >= 0 ? sig >>> shift : sig << -shift;
                long biased = top >= -1022 ? top + 1023 : 0;
                yield sign | (biased << 52) | (fraction & 0xf_ffff_ffff_ffffL);
            }
        };
    }

    /** The 64-bit significand of the 80-bit encoding of {@code n}. */
    public static long extendedSignificand(Num n) {
        return switch (n.kind) {
            case ZERO -> 0;
            case INF -> INTEGER_BIT;
            case NAN, UNSUPPORTED -> n.sig;
            default -> {
                int top = 63 - Long.numberOfLeadingZeros(n.sig) + n.exp;
                int shift = top >= -16382 ? top - 63 - n.exp : -16445 - n.exp;
                yield shift >= 0 ? n.sig >>> shift : n.sig << -shift;
            }
        };
    }

    /** The sign and exponent (high 16 bits) of the 80-bit encoding of {@code n}. */
    public static int extendedSignExponent(Num n) {
        int sign = n.neg ? 0x8000 : 0;
        return switch (n.kind) {
            case ZERO -> sign;
            case INF, NAN -> sign | 0x7fff;
            case UNSUPPORTED -> sign | n.exp;
            default -> {
                int top = 63 - Long.numberOfLeadingZeros(n.sig) + n.exp;
                yield sign | (top >= -16382 ? top + 16383 : 0);
            }
        };
    }

    // ---- rounding ----

    /**
     * Rounds (-1)^neg x mag x 2^exp (mag > 0) to {@code precision} significant bits within the exponent
     * range of {@code format} (a smaller precision is the x87's precision control), raising OE, UE and PE
     * as x86 does with those exceptions masked.
     */
    Num round(boolean neg, BigInteger mag, int exp, Format format, int precision) {
        int length = mag.bitLength();
        int top = length - 1 + exp;
        boolean tiny = false;
        if (top < format.emin) {
            tiny = true;
            if (top == format.emin - 1 && length > precision) {
                // Tininess after rounding: rounding with an unbounded exponent may reach 2^emin.
                int shift = length - precision;
                BigInteger q = mag.shiftRight(shift);
                boolean half = mag.testBit(shift - 1);
                boolean sticky = mag.getLowestSetBit() < shift - 1;
                if (increment(neg, q.testBit(0), half, sticky) && q.add(BigInteger.ONE).bitLength() > precision) {
                    tiny = false;
                }
            }
        }
        // Below the normal range the quantum is fixed; with x87 precision control it is that of the
        // reduced precision (the hardware keeps the top bits of the significand there too).
        int lsb = Math.max(top, format.emin) - precision + 1;
        int shift = lsb - exp;
        BigInteger q;
        boolean inexact = false;
        boolean up = false;
        if (shift <= 0) {
            q = mag.shiftLeft(-shift);
        } else {
            q = mag.shiftRight(shift);
            boolean half = mag.testBit(shift - 1);
            boolean sticky = mag.getLowestSetBit() < shift - 1;
            inexact = half || sticky;
            if (increment(neg, q.testBit(0), half, sticky)) {
                q = q.add(BigInteger.ONE);
                up = true;
            }
        }
        roundedUp = up;
        this.tiny = tiny;
        if (q.bitLength() > precision) {
            // Rounding carried into a new leading bit: the significand is a power of two.
            q = q.shiftRight(1);
            lsb++;
        }
        if (tiny && ftz) {
            flags |= UE | PE;
            roundedUp = false;
            return zero(neg);
        }
        if (inexact) {
            flags |= tiny ? UE | PE : PE;
        }
        if (q.signum() == 0) {
            return zero(neg);
        }
        int resultTop = q.bitLength() - 1 + lsb;
        if (resultTop > format.emax) {
            flags |= OE | PE;
            boolean toInfinity = switch (rc) {
                case RN -> true;
                case RD -> neg;
                case RU -> !neg;
                default -> false;
            };
            roundedUp = toInfinity;
            if (toInfinity) {
                return inf(neg);
            }
            long max = precision == 64 ? -1L : ((1L << precision) - 1) << (64 - precision);
            return new Num(FINITE, neg, max, format.emax - 63, false);
        }
        return normalized(neg, q.longValue(), lsb);
    }

    /** Whether the last {@link #round} increased the magnitude (the x87 reports it in C1). */
    boolean roundedUp;
    /**
     * Whether the last {@link #round}'s result was tiny (below the normal range after rounding with an
     * unbounded exponent): an unmasked underflow exception is raised on tininess alone, exact or not.
     */
    boolean tiny;

    private boolean increment(boolean neg, boolean odd, boolean half, boolean sticky) {
        return switch (rc) {
            case RN -> half && (sticky || odd);
            case RD -> neg && (half || sticky);
            case RU -> !neg && (half || sticky);
            default -> false;
        };
    }

    /** A finite number with its significand shifted so that bit 63 is set. */
    static Num normalized(boolean neg, long sig, int exp) {
        int zeros = Long.numberOfLeadingZeros(sig);
        return new Num(FINITE, neg, sig << zeros, exp - zeros, false);
    }

    Num round(boolean neg, long unsignedMag, int exp, Format format, int precision) {
        return round(neg, unsigned(unsignedMag), exp, format, precision);
    }

    /** Rounds a finite (or zero/infinite) number, e.g. converting it to a narrower format. */
    Num round(Num n, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        if (n.kind != FINITE) {
            return n.kind == NAN ? n : new Num(n.kind, n.neg, n.sig, n.exp, false);
        }
        return round(n.neg, n.sig, n.exp, format, precision);
    }

    public static BigInteger unsigned(long value) {
        BigInteger b = BigInteger.valueOf(value & Long.MAX_VALUE);
        return value < 0 ? b.setBit(63) : b;
    }

    private static BigInteger magnitude(Num n) {
        return unsigned(n.sig);
    }

    // ---- arithmetic on non-NaN operands; null means invalid ----

    /** a + b (or a - b): the sum of opposite infinities is invalid. */
    Num add(Num a, Num b, boolean subtract, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        if (subtract) {
            b = b.negate();
        }
        if (a.kind == INF || b.kind == INF) {
            if (a.kind == INF && b.kind == INF && a.neg != b.neg) {
                return null;
            }
            return a.kind == INF ? inf(a.neg) : inf(b.neg);
        }
        if (a.kind == ZERO && b.kind == ZERO) {
            return zero(a.neg == b.neg ? a.neg : rc == RD);
        }
        if (a.kind == ZERO) {
            return round(b, format, precision);
        }
        if (b.kind == ZERO) {
            return round(a, format, precision);
        }
        int topA = 63 - Long.numberOfLeadingZeros(a.sig) + a.exp;
        int topB = 63 - Long.numberOfLeadingZeros(b.sig) + b.exp;
        // An operand far below the other's last bit only acts as a sticky bit: keep it small and exact.
        if (topA - topB > 160) {
            b = new Num(FINITE, b.neg, 1, topA - 170, false);
        } else if (topB - topA > 160) {
            a = new Num(FINITE, a.neg, 1, topB - 170, false);
        }
        int exp = Math.min(a.exp, b.exp);
        BigInteger ma = magnitude(a).shiftLeft(a.exp - exp);
        BigInteger mb = magnitude(b).shiftLeft(b.exp - exp);
        BigInteger sum = (a.neg ? ma.negate() : ma).add(b.neg ? mb.negate() : mb);
        if (sum.signum() == 0) {
            return zero(rc == RD);
        }
        return round(sum.signum() < 0, sum.abs(), exp, format, precision);
    }

    /** a x b: zero times infinity is invalid. */
    Num mul(Num a, Num b, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        boolean neg = a.neg != b.neg;
        if (a.kind == INF || b.kind == INF) {
            return a.kind == ZERO || b.kind == ZERO ? null : inf(neg);
        }
        if (a.kind == ZERO || b.kind == ZERO) {
            return zero(neg);
        }
        return round(neg, magnitude(a).multiply(magnitude(b)), a.exp + b.exp, format, precision);
    }

    /** a / b: 0/0 and inf/inf are invalid; a finite non-zero a over zero raises ZE and gives infinity. */
    Num div(Num a, Num b, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        boolean neg = a.neg != b.neg;
        if (a.kind == INF) {
            return b.kind == INF ? null : inf(neg);
        }
        if (b.kind == INF) {
            return zero(neg);
        }
        if (b.kind == ZERO) {
            if (a.kind == ZERO) {
                return null;
            }
            flags |= ZE;
            return inf(neg);
        }
        if (a.kind == ZERO) {
            return zero(neg);
        }
        BigInteger ma = magnitude(a);
        BigInteger mb = magnitude(b);
        int k = Math.max(0, precision + 3 + mb.bitLength() - ma.bitLength());
        BigInteger[] qr = ma.shiftLeft(k).divideAndRemainder(mb);
        BigInteger mag = qr[0].shiftLeft(1);
        if (qr[1].signum() != 0) {
            mag = mag.setBit(0);
        }
        return round(neg, mag, a.exp - b.exp - k - 1, format, precision);
    }

    /** The square root: negative non-zero operands (including -inf) are invalid; sqrt(-0) = -0. */
    Num sqrt(Num a, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        if (a.kind == ZERO) {
            return a;
        }
        if (a.neg) {
            return null;
        }
        if (a.kind == INF) {
            return a;
        }
        BigInteger m = magnitude(a);
        int t = Math.max(0, 2 * (precision + 3) - m.bitLength());
        if (((a.exp - t) & 1) != 0) {
            t++;
        }
        BigInteger shifted = m.shiftLeft(t);
        BigInteger s = shifted.sqrt();
        BigInteger mag = s.shiftLeft(1);
        if (s.multiply(s).compareTo(shifted) != 0) {
            mag = mag.setBit(0);
        }
        return round(false, mag, (a.exp - t) / 2 - 1, format, precision);
    }

    /** Compares two non-NaN numbers: negative, zero or positive as a is less than, equal to or greater than b. */
    static int compare(Num a, Num b) {
        int sa = signum(a);
        int sb = signum(b);
        if (sa != sb) {
            return Integer.compare(sa, sb);
        }
        if (sa == 0) {
            return 0;
        }
        int magnitude = compareMagnitude(a, b);
        return sa > 0 ? magnitude : -magnitude;
    }

    private static int signum(Num n) {
        return n.kind == ZERO ? 0 : n.neg ? -1 : 1;
    }

    private static int compareMagnitude(Num a, Num b) {
        if (a.kind == INF || b.kind == INF) {
            return a.kind == b.kind ? 0 : a.kind == INF ? 1 : -1;
        }
        int topA = 63 - Long.numberOfLeadingZeros(a.sig) + a.exp;
        int topB = 63 - Long.numberOfLeadingZeros(b.sig) + b.exp;
        if (topA != topB) {
            return Integer.compare(topA, topB);
        }
        long na = a.sig << Long.numberOfLeadingZeros(a.sig);
        long nb = b.sig << Long.numberOfLeadingZeros(b.sig);
        return Long.compareUnsigned(na, nb);
    }

    /**
     * Rounds a finite or zero number to an integer under {@link #rc}, raising PE if that changed it; returns
     * the integer with its sign (a negative number rounding to zero gives zero: the caller keeps the sign).
     */
    BigInteger toInteger(Num a, int mode) {
        if (a.kind == ZERO) {
            return BigInteger.ZERO;
        }
        BigInteger mag = magnitude(a);
        BigInteger q;
        if (a.exp >= 0) {
            q = mag.shiftLeft(a.exp);
        } else {
            int shift = -a.exp;
            q = mag.shiftRight(shift);
            boolean half = shift <= 64 && mag.testBit(shift - 1);
            boolean sticky = shift > 64 ? true : mag.getLowestSetBit() < shift - 1;
            if (half || sticky) {
                flags |= PE;
                int saved = rc;
                rc = mode;
                if (increment(a.neg, q.testBit(0), half, sticky)) {
                    q = q.add(BigInteger.ONE);
                }
                rc = saved;
            }
        }
        return a.neg ? q.negate() : q;
    }

    /**
     * Converts a finite number to a two's complement integer of {@code bits} bits rounding with {@code mode},
     * or returns null if it does not fit (the caller raises IE and stores the integer indefinite); PE only
     * when the result fits.
     */
    Long toInt(Num a, int mode, int bits) {
        int saved = flags;
        BigInteger value = toInteger(a, mode);
        if (value.bitLength() > bits - 1) {
            flags = saved;
            return null;
        }
        return value.longValue();
    }

    /** An integer, rounded to the format (exact for the extended format). */
    Num fromInteger(long value, Format format, int precision) {
        roundedUp = false;
        tiny = false;
        if (value == 0) {
            return zero(false);
        }
        boolean neg = value < 0;
        return round(neg, neg ? unsigned(-value) : BigInteger.valueOf(value), 0, format, precision);
    }
}
