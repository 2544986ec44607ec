package io.vmguard.engine.interp;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;

/**
 * The SSE2 scalar-double forms compiled blocks run natively, each only when Java's double arithmetic provably leaves
 * what {@link SseUnit} leaves; otherwise it returns false and the block hands the instruction to the interpreter.
 *
 * <p>Java's +, -, x, / and the long-to-double conversion round to nearest, as MXCSR's default rounding does, and
 * give IEEE 754's results; what they cannot give is MXCSR's side: its sticky status flags, unmasked exceptions,
 * DAZ/FTZ and x86's NaN rules. So the native path requires
 * <ul>
 *   <li>SSE enabled (CR0.EM and CR0.TS clear, CR4.OSFXSR set): otherwise the interpreter raises #UD or #NM;</li>
 *   <li>for operations that may be inexact: rounding to nearest, and PE already set and masked, so an inexact
 *       result changes nothing in MXCSR and raises nothing;</li>
 *   <li>operands that are normal numbers or zeros (no NaN, infinity or denormal: IE, DE, DAZ and the NaN rules),
 *       and a result that is a normal number above the smallest one, or an exact zero (no OE, UE, FTZ). A result
 *       that is exactly the smallest normal may have been tiny before rounding, so it goes to the interpreter.</li>
 * </ul>
 * Under those conditions the only flag the operation could raise is PE, which is set already. Everything is decided
 * from values, so the guard costs a few compares; the generated code inlines these methods.
 */
final class JitSse {
    private JitSse() {}

    /** Operations, as the 0F 5x opcode byte names them. */
    static final int ADD = 0x58, MUL = 0x59, SUB = 0x5c, DIV = 0x5e;

    /** MXCSR: RC (bits 13-14), PM (12) and PE (5); native inexact arithmetic needs RC 0, PM and PE set. */
    private static final int ROUNDING_AND_PRECISION = 0x6000 | 0x1000 | 0x20, NEAREST_PRECISION_SET = 0x1000 | 0x20;
    private static final long D_EXP = 0x7ff0_0000_0000_0000L;

    /** Whether an SSE instruction may run at all (the interpreter raises #UD or #NM otherwise). */
    static boolean enabled(CpuState cpu) {
        return (cpu.cr0 & (SpecialRegisters.CR0_EM | SpecialRegisters.CR0_TS)) == 0
                && (cpu.cr4 & SpecialRegisters.CR4_OSFXSR) != 0;
    }

    /** Whether an inexact result would only raise PE, already set and masked, under round-to-nearest. */
    static boolean inexactIsSilent(CpuState cpu) {
        return (cpu.mxcsr & ROUNDING_AND_PRECISION) == NEAREST_PRECISION_SET;
    }

    /** Normal or zero: no NaN, infinity or denormal. */
    static boolean plain(long bits) {
        long e = bits & D_EXP;
        return e != D_EXP && (e != 0 || (bits << 1) == 0);
    }

    /** The low quadword of XMM register {@code reg}. */
    static long low(CpuState cpu, int reg) {
        return cpu.xmm[2 * reg];
    }

    /** ADDSD, SUBSD, MULSD, DIVSD of XMM {@code dst} with {@code source} (a register's low quadword or an m64). */
    static boolean arithmetic(CpuState cpu, int operation, int dst, long source) {
        long destination = cpu.xmm[2 * dst];
        if (!enabled(cpu) || !inexactIsSilent(cpu) || !plain(destination) || !plain(source)) {
            return false;
        }
        double a = Double.longBitsToDouble(destination);
        double b = Double.longBitsToDouble(source);
        double r;
        switch (operation) {
            case ADD -> r = a + b;  // a zero sum of normals or zeros is exact
            case SUB -> r = a - b;
            case MUL -> {
                r = a * b;
                if (r == 0 && a != 0 && b != 0) {
                    return false; // underflow
                }
            }
            default -> {
                if (b == 0) {
                    return false; // ZE, or IE for 0/0
                }
                r = a / b;
                if (r == 0 && a != 0) {
                    return false; // underflow
                }
            }
        }
        double magnitude = Math.abs(r);
        if (r != 0 && !(magnitude > Double.MIN_NORMAL && magnitude <= Double.MAX_VALUE)) {
            return false; // tiny (UE, FTZ) or overflowed (OE)
        }
        cpu.xmm[2 * dst] = Double.doubleToRawLongBits(r);
        return true;
    }

    /** COMISD, UCOMISD of XMM {@code a} with {@code source}: ZF, PF, CF as ordered operands set them (no flag raised). */
    static boolean compare(CpuState cpu, int a, long source) {
        long first = cpu.xmm[2 * a];
        if (!enabled(cpu) || !plain(first) || !plain(source)) {
            return false; // NaN (IE, unordered), denormal (DE)
        }
        double x = Double.longBitsToDouble(first);
        double y = Double.longBitsToDouble(source);
        Alu.setArithmetic(cpu, x == y ? Flags.ZF : x < y ? Flags.CF : 0);
        return true;
    }

    /** CVTSI2SD: {@code value}, sign-extended from its r/m32 or r/m64, into the low lane of XMM {@code dst}. */
    static boolean convert(CpuState cpu, int dst, long value) {
        boolean exact = value >= -(1L << 53) && value <= 1L << 53;
        if (!enabled(cpu) || !exact && !inexactIsSilent(cpu)) {
            return false;
        }
        cpu.xmm[2 * dst] = Double.doubleToRawLongBits((double) value);
        return true;
    }

    /** MOVAPD, MOVAPS between registers. */
    static boolean movePacked(CpuState cpu, int dst, int src) {
        if (!enabled(cpu)) {
            return false;
        }
        cpu.xmm[2 * dst] = cpu.xmm[2 * src];
        cpu.xmm[2 * dst + 1] = cpu.xmm[2 * src + 1];
        return true;
    }

    /** MOVSD between registers: the low quadword only. */
    static boolean moveScalar(CpuState cpu, int dst, int src) {
        if (!enabled(cpu)) {
            return false;
        }
        cpu.xmm[2 * dst] = cpu.xmm[2 * src];
        return true;
    }

    /** MOVSD xmm, m64: the low quadword loaded, the high one cleared (enabled checked before the load). */
    static void loadScalar(CpuState cpu, int dst, long value) {
        cpu.xmm[2 * dst] = value;
        cpu.xmm[2 * dst + 1] = 0;
    }

    /** XORPD, XORPS, PXOR between registers (zeroing idiom included). */
    static boolean xorPacked(CpuState cpu, int dst, int src) {
        if (!enabled(cpu)) {
            return false;
        }
        cpu.xmm[2 * dst] ^= cpu.xmm[2 * src];
        cpu.xmm[2 * dst + 1] ^= cpu.xmm[2 * src + 1];
        return true;
    }
}
