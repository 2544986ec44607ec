package io.vmguard.engine.interp.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.interp.DifferentialHarness;
import java.math.BigInteger;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The lazy flags against a reference written from the SDM's definitions with unbounded integers: every
 * operation Alu records lazily, each of its fast paths ({@link Flags#carry}, {@link Flags#zero},
 * {@link Flags#sign}, {@link Flags#condition}) against the full evaluation, exhaustively for bytes and with
 * random and edge operands for the wider sizes, starting from eager and from lazy flag states.
 */
class FlagsTest {
    private static final long CF = Flags.CF, PF = Flags.PF, AF = Flags.AF, ZF = Flags.ZF, SF = Flags.SF, OF = Flags.OF;
    private static final int[] OPS = {Alu.ADD, Alu.OR, Alu.ADC, Alu.SBB, Alu.AND, Alu.SUB, Alu.XOR, Alu.CMP};
    private static final long[] EDGES = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffffL, 0x8000_0000L,
            0xffff_ffffL, Long.MAX_VALUE, Long.MIN_VALUE, -1, -2, 0x0f, 0x10, 0xf0};

    private static BigInteger unsigned(long value, int size) {
        return new BigInteger(Long.toUnsignedString(value & Flags.mask(size)));
    }

    private static BigInteger signed(long value, int size) {
        return BigInteger.valueOf(Flags.signExtend(value, size));
    }

    /** SF, ZF and PF of a result. */
    private static long szp(long result, int size) {
        long r = result & Flags.mask(size);
        long flags = r == 0 ? ZF : 0;
        flags |= (r & Flags.signBit(size)) != 0 ? SF : 0;
        flags |= (Long.bitCount(r & 0xff) & 1) == 0 ? PF : 0;
        return flags;
    }

    /** The SDM's flags for ALU operation {@code op} on {@code a}, {@code b} with carry-in {@code cin}. */
    private static long reference(int op, long a, long b, int cin, int size) {
        int bits = size * 8;
        BigInteger limit = BigInteger.ONE.shiftLeft(bits);
        BigInteger signedMax = BigInteger.ONE.shiftLeft(bits - 1).subtract(BigInteger.ONE);
        BigInteger signedMin = BigInteger.ONE.shiftLeft(bits - 1).negate();
        switch (op) {
            case Alu.ADD, Alu.ADC, Alu.SUB, Alu.SBB, Alu.CMP -> {
                boolean add = op == Alu.ADD || op == Alu.ADC;
                int carry = op == Alu.ADC || op == Alu.SBB ? cin : 0;
                boolean carryOut;
                boolean overflow;
                long result;
                if (size < 8) { // exact in a long
                    long m = Flags.mask(size);
                    long u = add ? (a & m) + (b & m) + carry : (a & m) - (b & m) - carry;
                    long s = add ? Flags.signExtend(a, size) + Flags.signExtend(b, size) + carry
                            : Flags.signExtend(a, size) - Flags.signExtend(b, size) - carry;
                    result = u;
                    carryOut = u < 0 || u > m;
                    overflow = s != Flags.signExtend(s, size);
                } else {
                    BigInteger c = BigInteger.valueOf(carry);
                    BigInteger u = add ? unsigned(a, size).add(unsigned(b, size)).add(c)
                            : unsigned(a, size).subtract(unsigned(b, size)).subtract(c);
                    BigInteger s = add ? signed(a, size).add(signed(b, size)).add(c)
                            : signed(a, size).subtract(signed(b, size)).subtract(c);
                    result = u.longValue();
                    carryOut = u.compareTo(limit) >= 0 || u.signum() < 0;
                    overflow = s.compareTo(signedMax) > 0 || s.compareTo(signedMin) < 0;
                }
                long flags = szp(result, size);
                flags |= carryOut ? CF : 0;
                flags |= overflow ? OF : 0;
                flags |= ((a ^ b ^ result) & 0x10) != 0 ? AF : 0;
                return flags;
            }
            default -> {
                long result = op == Alu.AND ? a & b : op == Alu.OR ? a | b : a ^ b;
                return szp(result, size); // CF = OF = 0; AF undefined (the interpreter gives 0)
            }
        }
    }

    /** The sixteen conditions, from the flags as the SDM defines them. */
    private static boolean condition(long flags, int cc) {
        boolean cf = (flags & CF) != 0, zf = (flags & ZF) != 0, sf = (flags & SF) != 0;
        boolean of = (flags & OF) != 0, pf = (flags & PF) != 0;
        boolean result = switch (cc >> 1) {
            case 0 -> of;
            case 1 -> cf;
            case 2 -> zf;
            case 3 -> cf || zf;
            case 4 -> sf;
            case 5 -> pf;
            case 6 -> sf != of;
            default -> zf || sf != of;
        };
        return (cc & 1) == 0 ? result : !result;
    }

    /** Checks the recorded state's full evaluation and every fast path against {@code expected}. */
    private static void check(CpuState cpu, long expected, String what) {
        long actual = Flags.arithmetic(cpu);
        assertEquals(expected, actual, () -> what + ": expected [" + DifferentialHarness.flagNames(expected) + "], got ["
                + DifferentialHarness.flagNames(actual) + "]");
        assertEquals((expected & CF) != 0, Flags.carry(cpu), () -> what + ": carry()");
        assertEquals((expected & ZF) != 0, Flags.zero(cpu), () -> what + ": zero()");
        assertEquals((expected & SF) != 0, Flags.sign(cpu), () -> what + ": sign()");
        for (int cc = 0; cc < 16; cc++) {
            int c = cc;
            assertEquals(condition(expected, cc), Flags.condition(cpu, cc), () -> what + ": condition " + c);
        }
        assertEquals(expected, cpu.rflags() & Flags.ARITHMETIC, () -> what + ": rflags()");
    }

    /** A CPU whose CF is {@code carry}, eagerly or lazily (after an operation that left it). */
    private static CpuState withCarry(int carry, boolean lazy) {
        CpuState cpu = new CpuState();
        if (lazy) {
            // 0 - 1 borrows; 0 - 0 does not: a lazy SUB state with the wanted CF.
            Alu.binary(cpu, Alu.SUB, 0, carry, 8);
        } else {
            cpu.setRflags(Flags.RESERVED_ONE | (carry != 0 ? CF : 0) | SF | OF);
        }
        return cpu;
    }

    private static void binaryCase(int op, long a, long b, int cin, int size, boolean lazy) {
        CpuState cpu = withCarry(cin, lazy);
        long result = Alu.binary(cpu, op, a, b, size);
        long expected = reference(op, a, b, cin, size);
        String what = String.format("op %d size %d a=%x b=%x cf=%d %s", op, size, a, b, cin, lazy ? "lazy" : "eager");
        if (op == Alu.AND || op == Alu.OR || op == Alu.XOR) {
            expected |= Flags.arithmetic(cpu) & AF; // undefined: not checked
        }
        check(cpu, expected, what);
        long m = Flags.mask(size);
        long wanted = switch (op) {
            case Alu.ADD -> a + b;
            case Alu.ADC -> a + b + cin;
            case Alu.SUB, Alu.CMP -> a - b;
            case Alu.SBB -> a - b - cin;
            case Alu.AND -> a & b;
            case Alu.OR -> a | b;
            default -> a ^ b;
        };
        assertEquals(wanted & m, result, what + ": result");
    }

    @Test
    void everyByteOperationMatchesTheReference() {
        for (int op : OPS) {
            for (int a = 0; a < 256; a++) {
                for (int b = 0; b < 256; b++) {
                    binaryCase(op, a, b, (a ^ b) & 1, 1, ((a + b) & 2) != 0);
                    if (op == Alu.ADC || op == Alu.SBB) {
                        binaryCase(op, a, b, ~(a ^ b) & 1, 1, ((a + b) & 2) == 0);
                    }
                }
            }
        }
    }

    @Test
    void widerOperationsMatchTheReference() {
        Random random = new Random(0xf1a65L);
        for (int size : new int[] {2, 4, 8}) {
            for (int op : OPS) {
                for (long a : EDGES) {
                    for (long b : EDGES) {
                        for (int cin = 0; cin < 2; cin++) {
                            binaryCase(op, a, b, cin, size, cin == 0);
                        }
                    }
                }
                for (int i = 0; i < 5_000; i++) {
                    long a = random.nextLong() >> random.nextInt(64);
                    long b = random.nextBoolean() ? random.nextLong() : a + random.nextInt(5) - 2;
                    binaryCase(op, a, b, random.nextInt(2), size, random.nextBoolean());
                }
            }
        }
    }

    @Test
    void incDecAndNegMatchTheReferenceAndIncDecKeepCarry() {
        Random random = new Random(0x1dec);
        for (int size : new int[] {1, 2, 4, 8}) {
            for (int i = 0; i < 5_000; i++) {
                long a = i < EDGES.length ? EDGES[i] : random.nextLong() >> random.nextInt(64);
                int cin = random.nextInt(2);
                boolean lazy = random.nextBoolean();

                CpuState cpu = withCarry(cin, lazy);
                long result = Alu.inc(cpu, a, size);
                assertEquals((a + 1) & Flags.mask(size), result);
                check(cpu, (reference(Alu.ADD, a, 1, 0, size) & ~CF) | (cin != 0 ? CF : 0), "inc " + Long.toHexString(a));

                cpu = withCarry(cin, lazy);
                result = Alu.dec(cpu, a, size);
                assertEquals((a - 1) & Flags.mask(size), result);
                check(cpu, (reference(Alu.SUB, a, 1, 0, size) & ~CF) | (cin != 0 ? CF : 0), "dec " + Long.toHexString(a));

                cpu = withCarry(cin, lazy);
                result = Alu.neg(cpu, a, size);
                assertEquals(-a & Flags.mask(size), result);
                check(cpu, reference(Alu.SUB, 0, a, 0, size), "neg " + Long.toHexString(a)); // CF = (a != 0)
            }
        }
    }

    @Test
    void eagerFlagsSurviveALazyRecordAndNonArithmeticBitsAreKept() {
        CpuState cpu = new CpuState();
        cpu.setRflags(Flags.RESERVED_ONE | Flags.DF | Flags.IF | CF | ZF);
        Alu.binary(cpu, Alu.ADD, 0xff, 1, 1); // 0x100: ZF CF AF PF
        assertEquals(Flags.RESERVED_ONE | Flags.DF | Flags.IF | CF | ZF | AF | PF, cpu.rflags());
        Alu.setArithmetic(cpu, OF);
        assertEquals(Flags.RESERVED_ONE | Flags.DF | Flags.IF | OF, cpu.rflags());
        Alu.inc(cpu, 0x7f, 1); // OF SF AF, CF kept (clear)
        assertEquals(Flags.RESERVED_ONE | Flags.DF | Flags.IF | OF | SF | AF, cpu.rflags());
    }
}
