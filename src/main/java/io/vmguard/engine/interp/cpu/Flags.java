package io.vmguard.engine.interp.cpu;

/**
 * RFLAGS with lazily computed arithmetic flags, as QEMU does it: most instructions only record what they
 * did ({@link CpuState#ccOp}, the result and an operand) and the six arithmetic flags are worked out when
 * something reads them. Conditional jumps after CMP/TEST, the common case, test the recorded values
 * directly.
 */
public final class Flags {
    public static final long CF = 1L, PF = 1L << 2, AF = 1L << 4, ZF = 1L << 6, SF = 1L << 7;
    public static final long TF = 1L << 8, IF = 1L << 9, DF = 1L << 10, OF = 1L << 11;
    public static final long IOPL = 3L << 12, NT = 1L << 14, RF = 1L << 16, VM = 1L << 17, AC = 1L << 18;
    public static final long VIF = 1L << 19, VIP = 1L << 20, ID = 1L << 21;
    static final long ARITHMETIC = CF | PF | AF | ZF | SF | OF;
    public static final long RESERVED_ONE = 1L << 1;
    /** Bits software can change with POPF/IRET at CPL 0 (others are fixed or reserved). */
    public static final long WRITABLE = ARITHMETIC | TF | IF | DF | IOPL | NT | RF | AC | ID;

    // ccOp values: the arithmetic flags are in rflags (EAGER), or derivable from the last operation.
    static final int EAGER = 0;
    static final int ADD = 1;     // ccResult = a + b, ccSrc = b
    static final int ADC = 2;     // ccResult = a + b + ccCarryIn, ccSrc = b
    static final int SUB = 3;     // ccResult = a - b, ccSrc = b (CMP too)
    static final int SBB = 4;     // ccResult = a - b - ccCarryIn, ccSrc = b
    static final int LOGIC = 5;   // ccResult = result; CF = OF = AF = 0
    static final int INC = 6;     // ccResult = a + 1; CF kept in ccCarryIn
    static final int DEC = 7;     // ccResult = a - 1; CF kept in ccCarryIn
    static final int SHIFT = 8;   // ccResult = result of SHL/SHR/SAR; ccSrc = its CF and OF; AF = 0

    private Flags() {}

    public static long mask(int size) {
        return size == 8 ? -1L : (1L << (size * 8)) - 1;
    }

    public static long signBit(int size) {
        return 1L << (size * 8 - 1);
    }

    /** Sign-extends the low {@code size} bytes. */
    public static long signExtend(long value, int size) {
        return switch (size) {
            case 1 -> (byte) value;
            case 2 -> (short) value;
            case 4 -> (int) value;
            default -> value;
        };
    }

    static boolean parity(long value) {
        return (Integer.bitCount((int) value & 0xff) & 1) == 0;
    }

    /** The six arithmetic flags for the recorded operation. */
    static long arithmetic(CpuState cpu) {
        int op = cpu.ccOp;
        if (op == EAGER) {
            return cpu.rflags & ARITHMETIC;
        }
        int size = cpu.ccSize;
        long m = mask(size);
        long sign = signBit(size);
        long result = cpu.ccResult & m;
        long flags = 0;
        if (result == 0) {
            flags |= ZF;
        }
        if ((result & sign) != 0) {
            flags |= SF;
        }
        if (parity(result)) {
            flags |= PF;
        }
        long b = cpu.ccSrc & m;
        switch (op) {
            case ADD, ADC -> {
                long carryIn = op == ADC ? cpu.ccCarryIn : 0;
                long a = (result - b - carryIn) & m;
                boolean carry = carryIn != 0 ? Long.compareUnsigned(result, a) <= 0 : Long.compareUnsigned(result, a) < 0;
                if (carry) {
                    flags |= CF;
                }
                if ((((a ^ result) & (b ^ result)) & sign) != 0) {
                    flags |= OF;
                }
                flags |= (a ^ b ^ result) & AF;
            }
            case SUB, SBB -> {
                long borrowIn = op == SBB ? cpu.ccCarryIn : 0;
                long a = (result + b + borrowIn) & m;
                boolean borrow = borrowIn != 0 ? Long.compareUnsigned(a, b) <= 0 : Long.compareUnsigned(a, b) < 0;
                if (borrow) {
                    flags |= CF;
                }
                if ((((a ^ b) & (a ^ result)) & sign) != 0) {
                    flags |= OF;
                }
                flags |= (a ^ b ^ result) & AF;
            }
            case LOGIC -> { }
            case SHIFT -> flags |= cpu.ccSrc & (CF | OF);
            case INC -> {
                flags |= cpu.ccCarryIn != 0 ? CF : 0;
                if (result == sign) {
                    flags |= OF;
                }
                if ((result & 0xf) == 0) {
                    flags |= AF;
                }
            }
            case DEC -> {
                flags |= cpu.ccCarryIn != 0 ? CF : 0;
                if (result == sign - 1) {
                    flags |= OF;
                }
                if ((result & 0xf) == 0xf) {
                    flags |= AF;
                }
            }
            default -> throw new IllegalStateException("ccOp " + op);
        }
        return flags;
    }

    public static boolean carry(CpuState cpu) {
        return switch (cpu.ccOp) {
            case SUB -> Long.compareUnsigned((cpu.ccResult + cpu.ccSrc) & mask(cpu.ccSize), cpu.ccSrc & mask(cpu.ccSize)) < 0;
            case LOGIC -> false;
            case SHIFT -> (cpu.ccSrc & CF) != 0;
            case INC, DEC -> cpu.ccCarryIn != 0;
            default -> (arithmetic(cpu) & CF) != 0;
        };
    }

    public static boolean zero(CpuState cpu) {
        return cpu.ccOp == EAGER ? (cpu.rflags & ZF) != 0 : (cpu.ccResult & mask(cpu.ccSize)) == 0;
    }

    static boolean sign(CpuState cpu) {
        return cpu.ccOp == EAGER ? (cpu.rflags & SF) != 0 : (cpu.ccResult & signBit(cpu.ccSize)) != 0;
    }

    /**
     * Evaluates condition code {@code cc} (the low nibble of Jcc/SETcc/CMOVcc): O, NO, B, AE, E, NE, BE, A,
     * S, NS, P, NP, L, GE, LE, G.
     */
    public static boolean condition(CpuState cpu, int cc) {
        boolean result = switch (cc >> 1) {
            case 0 -> (arithmetic(cpu) & OF) != 0;
            case 1 -> carry(cpu);
            case 2 -> zero(cpu);
            case 3 -> carry(cpu) || zero(cpu);
            case 4 -> sign(cpu);
            case 5 -> (arithmetic(cpu) & PF) != 0;
            case 6 -> lessThan(cpu);
            default -> zero(cpu) || lessThan(cpu);
        };
        return (cc & 1) == 0 ? result : !result;
    }

    /**
     * CMP a, b (recording its flags, as CMP does) and then condition {@code cc}, taken from the operands
     * directly where that is plain (all but O and P).
     */
    public static boolean compareAndTest(CpuState cpu, int cc, long a, long b, int size) {
        Alu.binary(cpu, Alu.CMP, a, b, size);
        long m = mask(size);
        long x = a & m;
        long y = b & m;
        boolean result = switch (cc >> 1) {
            case 1 -> Long.compareUnsigned(x, y) < 0;                     // B: borrow
            case 2 -> x == y;                                              // E
            case 3 -> Long.compareUnsigned(x, y) <= 0;                    // BE
            case 4 -> ((x - y) & signBit(size)) != 0;                      // S
            case 6 -> signExtend(x, size) < signExtend(y, size);          // L: SF != OF
            case 7 -> signExtend(x, size) <= signExtend(y, size);         // LE
            default -> condition(cpu, cc & ~1);                            // O, P
        };
        return (cc & 1) == 0 ? result : !result;
    }

    /** TEST a, b (recording its flags) and then condition {@code cc}: CF and OF are clear after TEST. */
    public static boolean testAndTest(CpuState cpu, int cc, long a, long b, int size) {
        long value = Alu.binary(cpu, Alu.AND, a, b, size);
        boolean negative = (value & signBit(size)) != 0;
        boolean result = switch (cc >> 1) {
            case 0, 1 -> false;                     // O, B
            case 2, 3 -> value == 0;                // E, BE
            case 4, 6 -> negative;                  // S, L (SF != OF, OF clear)
            case 5 -> parity(value);                // P
            default -> value == 0 || negative;      // LE
        };
        return (cc & 1) == 0 ? result : !result;
    }

    /** SF != OF: after a CMP, "a < b" as signed numbers. */
    private static boolean lessThan(CpuState cpu) {
        if (cpu.ccOp == SUB) {
            int size = cpu.ccSize;
            long b = signExtend(cpu.ccSrc, size);
            long a = signExtend(cpu.ccResult + cpu.ccSrc, size);
            return a < b;
        }
        if (cpu.ccOp == LOGIC) {
            return sign(cpu);
        }
        long flags = arithmetic(cpu);
        return ((flags & SF) != 0) != ((flags & OF) != 0);
    }
}
