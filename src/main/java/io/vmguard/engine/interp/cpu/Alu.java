package io.vmguard.engine.interp.cpu;

/**
 * Integer arithmetic with x86 flag semantics. Additive and logical operations record lazy flags; shifts,
 * rotates and multiplies, rarer and with odder rules, set their flags eagerly.
 */
public final class Alu {
    public static final int ADD = 0, OR = 1, ADC = 2, SBB = 3, AND = 4, SUB = 5, XOR = 6, CMP = 7;

    private Alu() {}

    /** Performs ALU operation {@code op} (ADD..CMP) and returns the result (for CMP, the difference). */
    public static long binary(CpuState cpu, int op, long a, long b, int size) {
        long m = Flags.mask(size);
        a &= m;
        b &= m;
        long result;
        switch (op) {
            case ADD -> { result = (a + b) & m; lazy(cpu, Flags.ADD, result, b, 0, size); }
            case ADC -> {
                long carry = Flags.carry(cpu) ? 1 : 0;
                result = (a + b + carry) & m;
                lazy(cpu, Flags.ADC, result, b, carry, size);
            }
            case SBB -> {
                long borrow = Flags.carry(cpu) ? 1 : 0;
                result = (a - b - borrow) & m;
                lazy(cpu, Flags.SBB, result, b, borrow, size);
            }
            case SUB, CMP -> { result = (a - b) & m; lazy(cpu, Flags.SUB, result, b, 0, size); }
            case AND -> { result = a & b; lazy(cpu, Flags.LOGIC, result, 0, 0, size); }
            case OR -> { result = a | b; lazy(cpu, Flags.LOGIC, result, 0, 0, size); }
            default -> { result = a ^ b; lazy(cpu, Flags.LOGIC, result, 0, 0, size); }
        }
        return result;
    }

    /** Two- and three-operand IMUL: the low half; CF and OF when it differs from the full product. */
    public static long imul(CpuState cpu, long a, long b, int size) {
        long low;
        boolean overflow;
        if (size == 8) {
            low = a * b;
            overflow = Math.multiplyHigh(a, b) != (low >> 63);
        } else {
            long product = Flags.signExtend(a, size) * Flags.signExtend(b, size);
            low = product & Flags.mask(size);
            overflow = Flags.signExtend(low, size) != product;
        }
        multiplyFlags(cpu, overflow, low, size);
        return low;
    }

    public static void lazy(CpuState cpu, int ccOp, long result, long src, long carryIn, int size) {
        if (cpu.ccOp == Flags.EAGER) {
            // Keep the non-arithmetic bits; the arithmetic ones now come from the recorded operation.
            cpu.rflags &= ~Flags.ARITHMETIC;
        }
        cpu.ccOp = ccOp;
        cpu.ccResult = result;
        cpu.ccSrc = src;
        cpu.ccCarryIn = carryIn;
        cpu.ccSize = size;
    }

    public static long inc(CpuState cpu, long a, int size) {
        long carry = Flags.carry(cpu) ? 1 : 0;
        long result = (a + 1) & Flags.mask(size);
        lazy(cpu, Flags.INC, result, 1, carry, size);
        return result;
    }

    public static long dec(CpuState cpu, long a, int size) {
        long carry = Flags.carry(cpu) ? 1 : 0;
        long result = (a - 1) & Flags.mask(size);
        lazy(cpu, Flags.DEC, result, 1, carry, size);
        return result;
    }

    public static long neg(CpuState cpu, long a, int size) {
        return binary(cpu, SUB, 0, a, size);
    }

    /** Sets the arithmetic flags explicitly (eager mode). */
    public static void setArithmetic(CpuState cpu, long flags) {
        // The arithmetic flags recorded so far are replaced, not read: no need to work them out (cpu.rflags()).
        cpu.rflags = (cpu.rflags & ~Flags.ARITHMETIC) | Flags.RESERVED_ONE | (flags & Flags.ARITHMETIC);
        cpu.ccOp = Flags.EAGER;
    }

    private static long szp(long result, int size) {
        long m = Flags.mask(size);
        long flags = 0;
        if ((result & m) == 0) {
            flags |= Flags.ZF;
        }
        if ((result & Flags.signBit(size)) != 0) {
            flags |= Flags.SF;
        }
        if (Flags.parity(result)) {
            flags |= Flags.PF;
        }
        return flags;
    }

    /**
     * Shift or rotate {@code op} (ROL ROR RCL RCR SHL SHR SAL SAR) of {@code a} by {@code rawCount}.
     * A masked count of zero changes neither the value nor the flags.
     */
    public static long shift(CpuState cpu, int op, long a, long rawCount, int size) {
        int bits = size * 8;
        int count = (int) (rawCount & (size == 8 ? 63 : 31));
        long m = Flags.mask(size);
        a &= m;
        if (count == 0) {
            return a;
        }
        // Rotates keep SF, ZF, PF and AF: they need the flags as they are. Shifts replace all six.
        long old = op < 4 ? cpu.rflags() : 0;
        boolean carry;
        boolean overflow;
        long result;
        long sign = Flags.signBit(size);
        switch (op) {
            case 0 -> { // ROL
                int c = count % bits;
                result = c == 0 ? a : ((a << c) | (a >>> (bits - c))) & m;
                carry = (result & 1) != 0;
                overflow = ((result & sign) != 0) != carry;
                setArithmetic(cpu, (old & ~(Flags.CF | Flags.OF)) | (carry ? Flags.CF : 0) | (overflow ? Flags.OF : 0));
                return result;
            }
            case 1 -> { // ROR
                int c = count % bits;
                result = c == 0 ? a : ((a >>> c) | (a << (bits - c))) & m;
                carry = (result & sign) != 0;
                overflow = ((result & sign) != 0) != ((result & (sign >>> 1)) != 0);
                setArithmetic(cpu, (old & ~(Flags.CF | Flags.OF)) | (carry ? Flags.CF : 0) | (overflow ? Flags.OF : 0));
                return result;
            }
            case 2, 3 -> { // RCL, RCR: rotate through carry, a (bits + 1)-bit rotation
                int c = count % (bits + 1);
                boolean cf = (old & Flags.CF) != 0;
                result = a;
                for (int i = 0; i < c; i++) {
                    if (op == 2) {
                        boolean out = (result & sign) != 0;
                        result = ((result << 1) | (cf ? 1 : 0)) & m;
                        cf = out;
                    } else {
                        boolean out = (result & 1) != 0;
                        result = (result >>> 1) | (cf ? sign : 0);
                        cf = out;
                    }
                }
                overflow = op == 2 ? ((result & sign) != 0) != cf
                        : ((result & sign) != 0) != ((result & (sign >>> 1)) != 0);
                setArithmetic(cpu, (old & ~(Flags.CF | Flags.OF)) | (cf ? Flags.CF : 0) | (overflow ? Flags.OF : 0));
                return result;
            }
            case 4, 6 -> { // SHL, SAL
                result = count >= 64 ? 0 : (a << count) & m;
                carry = count <= bits && ((a >>> (bits - count)) & 1) != 0;
                overflow = ((result & sign) != 0) != carry;
            }
            case 5 -> { // SHR
                result = a >>> count;
                carry = ((a >>> (count - 1)) & 1) != 0;
                overflow = (a & sign) != 0;
            }
            default -> { // SAR
                long signed = Flags.signExtend(a, size);
                result = (signed >> Math.min(count, 63)) & m;
                carry = ((signed >> Math.min(count - 1, 63)) & 1) != 0;
                overflow = false;
            }
        }
        // SF, ZF and PF follow from the result when read; AF is left clear, as before.
        lazy(cpu, Flags.SHIFT, result, (carry ? Flags.CF : 0) | (overflow ? Flags.OF : 0), 0, size);
        return result;
    }

    /** SHLD/SHRD: shift {@code dst} by count, filling from {@code src}. */
    public static long doubleShift(CpuState cpu, boolean left, long dst, long src, long rawCount, int size) {
        int bits = size * 8;
        int count = (int) (rawCount & (size == 8 ? 63 : 31));
        long m = Flags.mask(size);
        dst &= m;
        src &= m;
        if (count == 0) {
            return dst;
        }
        long result;
        boolean carry;
        if (count > bits) {
            // Undefined for 16-bit operands with counts above 16; keep the value (as some CPUs do).
            return dst;
        }
        if (left) {
            result = count == bits ? src : ((dst << count) | (src >>> (bits - count))) & m;
            carry = ((dst >>> (bits - count)) & 1) != 0;
        } else {
            result = count == bits ? src : ((dst >>> count) | (src << (bits - count))) & m;
            carry = ((dst >>> (count - 1)) & 1) != 0;
        }
        long sign = Flags.signBit(size);
        boolean overflow = ((result ^ dst) & sign) != 0;
        setArithmetic(cpu, szp(result, size) | (carry ? Flags.CF : 0) | (overflow ? Flags.OF : 0));
        return result;
    }

    /** Sets CF and OF for a multiply; the others become what Intel CPUs leave (SZP of the low half). */
    public static void multiplyFlags(CpuState cpu, boolean overflow, long low, int size) {
        setArithmetic(cpu, szp(low, size) | (overflow ? Flags.CF | Flags.OF : 0));
    }
}
