package io.vmguard.engine.interp.fpu;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.mmu.Mmu;

/**
 * SSE and SSE2 over the XMM registers ({@link CpuState#xmm}, low/high quadword pairs): every instruction of
 * the two sets except the MMX-register forms, which raise #UD (the interpreter has no MMX: gcc and the
 * C libraries never use it on x86-64), as do SSE3 and later (CPUID does not advertise them).
 *
 * <p>Floating point is bit-exact with Intel hardware, checked against it by SseDifferentialTest: results
 * under all four MXCSR rounding modes, DAZ and FTZ, the sticky exception flags (IE, DE, ZE, OE, UE, PE,
 * with x86's priorities: a NaN operand suppresses DE, a zero divisor suppresses DE), x86 NaN rules (the
 * first source NaN wins, quieted; MIN/MAX return the second operand on NaN; default NaN 0xFFC00000 /
 * 0xFFF8000000000000; integer indefinite on invalid conversions). Java's own arithmetic is used when it
 * provably gives the same answer (normal operands, normal result, error term computed exactly); otherwise
 * {@link SoftFloat} computes it exactly. An unmasked exception raises #XM (#UD without CR4.OSXMMEXCPT)
 * with the destination unchanged and the flags of all lanes set.
 *
 * <p>Knowingly inexact: RCPPS/RCPSS/RSQRTPS/RSQRTSS return the correctly rounded reciprocal (square root)
 * truncated to 12 bits, within the architectural error bound (1.5 x 2^-12) but not the bits a given CPU's
 * table gives.
 */
public final class SseUnit {
    private final CpuState cpu;
    private final Mmu mmu;
    private final Operands executor;
    private final SoftFloat soft = new SoftFloat();
    /** Exception flags raised by the current instruction (MXCSR bit order). */
    private int raised;
    private final long[] operand = new long[2];

    private static final int MXCSR_DAZ = 1 << 6, MXCSR_FTZ = 1 << 15, MXCSR_UM = 1 << 11;

    public SseUnit(CpuState cpu, Mmu mmu, Operands executor) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
    }

    private void requireEnabled() {
        if ((cpu.cr0 & SpecialRegisters.CR0_EM) != 0 || (cpu.cr4 & SpecialRegisters.CR4_OSFXSR) == 0) {
            throw GuestFault.ud();
        }
        if ((cpu.cr0 & SpecialRegisters.CR0_TS) != 0) {
            throw GuestFault.of(GuestFault.NM);
        }
    }

    // ---- operands ----

    /** Reads the 128-bit r/m operand into {@code operand}; memory operands must be 16-byte aligned if {@code aligned}. */
    private void read128(Instruction insn, boolean aligned) {
        if (insn.isMemory()) {
            long address = executor.address(insn);
            if (aligned && (address & 15) != 0) {
                throw GuestFault.gp();
            }
            operand[0] = mmu.read64(address);
            operand[1] = mmu.read64(address + 8);
        } else {
            operand[0] = cpu.xmm[2 * (insn.rm & 15)];
            operand[1] = cpu.xmm[2 * (insn.rm & 15) + 1];
        }
    }

    /** Reads the low 64 bits of the r/m operand (m64: no alignment). */
    private long read64(Instruction insn) {
        if (insn.isMemory() && operandGiven) {
            operandGiven = false;
            return givenOperand;
        }
        return insn.isMemory() ? mmu.read64(executor.address(insn)) : cpu.xmm[2 * (insn.rm & 15)];
    }

    /** An m64 operand compiled code has read already, for the instruction it hands over (see {@link #executeWith}). */
    private long givenOperand;
    private boolean operandGiven;

    /**
     * Runs an instruction whose m64 operand compiled code read already (JitSse's guard sent it here after the
     * read): the operand is not read twice, which matters for device memory.
     */
    public void executeWith(Instruction insn, long m64, Runnable execute) {
        givenOperand = m64;
        operandGiven = true;
        try {
            execute.run();
        } finally {
            operandGiven = false;
        }
    }

    /** Reads the low 32 bits of the r/m operand (m32: no alignment). */
    private long read32(Instruction insn) {
        return insn.isMemory() ? mmu.read32(executor.address(insn)) & 0xffff_ffffL : cpu.xmm[2 * (insn.rm & 15)] & 0xffff_ffffL;
    }

    private void write128(Instruction insn, boolean aligned, long low, long high) {
        if (insn.isMemory()) {
            long address = executor.address(insn);
            if (aligned && (address & 15) != 0) {
                throw GuestFault.gp();
            }
            mmu.probeWrite(address, 16);
            mmu.write64(address, low);
            mmu.write64(address + 8, high);
        } else {
            cpu.xmm[2 * (insn.rm & 15)] = low;
            cpu.xmm[2 * (insn.rm & 15) + 1] = high;
        }
    }

    private void setXmm(int reg, long low, long high) {
        cpu.xmm[2 * reg] = low;
        cpu.xmm[2 * reg + 1] = high;
    }

    private static GuestFault unimplemented() {
        return GuestFault.ud();
    }

    // ---- dispatch ----

    public void execute(Instruction insn) {
        int opcode = insn.opcode & 0xff;
        if (opcode == 0x77 && insn.mandatoryPrefix == 0) { // EMMS: an MMX instruction, no OSFXSR needed
            if ((cpu.cr0 & SpecialRegisters.CR0_EM) != 0) {
                throw GuestFault.ud();
            }
            if ((cpu.cr0 & SpecialRegisters.CR0_TS) != 0) {
                throw GuestFault.of(GuestFault.NM);
            }
            cpu.fpuTag = 0xffff;
            return;
        }
        requireEnabled();
        int prefix = insn.mandatoryPrefix;
        if (opcode == 0xc3) {
            moveNonTemporalInteger(insn, prefix);
        } else if (opcode < 0x60 || opcode == 0xc2 || opcode == 0xc6) {
            floatingPoint(insn, opcode, prefix);
        } else if (prefix == 0) {
            throw unimplemented(); // MMX register forms
        } else {
            integer(insn, opcode, prefix);
        }
    }

    private void moveNonTemporalInteger(Instruction insn, int prefix) {
        if (prefix != 0 || !insn.isMemory()) {
            throw unimplemented();
        }
        int size = insn.opSize == 8 ? 8 : 4;
        executor.writeRm(insn, size, cpu.gpr[insn.reg] & Flags.mask(size));
    }

    // ---- moves, logic and floating point: the 0F 10-5F and C2/C6 rows ----

    private void floatingPoint(Instruction insn, int opcode, int prefix) {
        int dst = insn.reg & 15;
        long dLo = cpu.xmm[2 * dst];
        long dHi = cpu.xmm[2 * dst + 1];
        switch (opcode) {
            case 0x10 -> { // MOVUPS, MOVUPD, MOVSS, MOVSD (loads)
                if (prefix == 0xf3 || prefix == 0xf2) {
                    moveScalarLoad(insn, dst, prefix == 0xf3 ? 4 : 8);
                } else {
                    read128(insn, false);
                    setXmm(dst, operand[0], operand[1]);
                }
            }
            case 0x11 -> { // stores
                if (prefix == 0xf3 || prefix == 0xf2) {
                    moveScalarStore(insn, dst, prefix == 0xf3 ? 4 : 8);
                } else {
                    write128(insn, false, dLo, dHi);
                }
            }
            case 0x12 -> { // MOVLPS/MOVLPD m64 -> low; MOVHLPS xmm
                if (prefix == 0xf3 || prefix == 0xf2 || (prefix == 0x66 && !insn.isMemory())) {
                    throw unimplemented(); // MOVSLDUP, MOVDDUP: SSE3
                }
                long value = insn.isMemory() ? mmu.read64(executor.address(insn)) : cpu.xmm[2 * (insn.rm & 15) + 1];
                cpu.xmm[2 * dst] = value;
            }
            case 0x13, 0x17 -> { // MOVLPS/MOVLPD/MOVHPS/MOVHPD m64 <- xmm
                if ((prefix != 0 && prefix != 0x66) || !insn.isMemory()) {
                    throw unimplemented();
                }
                mmu.write64(executor.address(insn), opcode == 0x13 ? dLo : dHi);
            }
            case 0x14, 0x15 -> { // UNPCKLPS/UNPCKLPD, UNPCKHPS/UNPCKHPD
                requirePsOrPd(prefix);
                read128(insn, true);
                long s = opcode == 0x14 ? operand[0] : operand[1];
                long d = opcode == 0x14 ? dLo : dHi;
                if (prefix == 0x66) {
                    setXmm(dst, d, s);
                } else {
                    setXmm(dst, (d & 0xffff_ffffL) | (s << 32), (d >>> 32) | (s & 0xffff_ffff_0000_0000L));
                }
            }
            case 0x16 -> { // MOVHPS/MOVHPD m64 -> high; MOVLHPS xmm
                if (prefix == 0xf3 || prefix == 0xf2 || (prefix == 0x66 && !insn.isMemory())) {
                    throw unimplemented(); // MOVSHDUP: SSE3
                }
                cpu.xmm[2 * dst + 1] = read64(insn);
            }
            case 0x28 -> { // MOVAPS, MOVAPD
                requirePsOrPd(prefix);
                read128(insn, true);
                setXmm(dst, operand[0], operand[1]);
            }
            case 0x29 -> {
                requirePsOrPd(prefix);
                write128(insn, true, dLo, dHi);
            }
            case 0x2b -> { // MOVNTPS, MOVNTPD: a plain aligned store
                requirePsOrPd(prefix);
                if (!insn.isMemory()) {
                    throw unimplemented();
                }
                write128(insn, true, dLo, dHi);
            }
            case 0x2a -> convertIntegerToScalar(insn, dst, prefix);
            case 0x2c, 0x2d -> convertScalarToInteger(insn, prefix, opcode == 0x2c);
            case 0x2e, 0x2f -> compareToFlags(insn, dLo, prefix, opcode == 0x2f);
            case 0x50 -> { // MOVMSKPS, MOVMSKPD
                requirePsOrPd(prefix);
                if (insn.isMemory()) {
                    throw unimplemented();
                }
                long lo = cpu.xmm[2 * (insn.rm & 15)];
                long hi = cpu.xmm[2 * (insn.rm & 15) + 1];
                long mask = prefix == 0x66 ? (lo >>> 63) | ((hi >>> 63) << 1)
                        : ((lo >>> 31) & 1) | ((lo >>> 62) & 2) | (((hi >>> 31) & 1) << 2) | (((hi >>> 63) & 1) << 3);
                executor.writeReg(insn.reg, 4, mask, true);
            }
            case 0x54, 0x55, 0x56, 0x57 -> { // ANDPS/PD, ANDNPS/PD, ORPS/PD, XORPS/PD
                requirePsOrPd(prefix);
                read128(insn, true);
                long a = operand[0];
                long b = operand[1];
                switch (opcode) {
                    case 0x54 -> setXmm(dst, dLo & a, dHi & b);
                    case 0x55 -> setXmm(dst, ~dLo & a, ~dHi & b);
                    case 0x56 -> setXmm(dst, dLo | a, dHi | b);
                    default -> setXmm(dst, dLo ^ a, dHi ^ b);
                }
            }
            case 0x51, 0x52, 0x53, 0x58, 0x59, 0x5c, 0x5d, 0x5e, 0x5f -> arithmetic(insn, opcode, prefix, dst, dLo, dHi);
            case 0x5a -> convertFloatWidth(insn, prefix, dst, dLo, dHi);
            case 0x5b -> convertPackedInteger(insn, prefix, dst);
            case 0xc2 -> compare(insn, prefix, dst, dLo, dHi);
            case 0xc6 -> { // SHUFPS, SHUFPD
                requirePsOrPd(prefix);
                read128(insn, true);
                int imm = (int) insn.imm;
                if (prefix == 0x66) {
                    setXmm(dst, (imm & 1) == 0 ? dLo : dHi, (imm & 2) == 0 ? operand[0] : operand[1]);
                } else {
                    long d0 = dword(dLo, dHi, imm & 3);
                    long d1 = dword(dLo, dHi, (imm >> 2) & 3);
                    long s2 = dword(operand[0], operand[1], (imm >> 4) & 3);
                    long s3 = dword(operand[0], operand[1], (imm >> 6) & 3);
                    setXmm(dst, d0 | (d1 << 32), s2 | (s3 << 32));
                }
            }
            default -> throw unimplemented();
        }
    }

    private static void requirePsOrPd(int prefix) {
        if (prefix != 0 && prefix != 0x66) {
            throw unimplemented();
        }
    }

    private static long dword(long lo, long hi, int index) {
        long q = index < 2 ? lo : hi;
        return (index & 1) == 0 ? q & 0xffff_ffffL : q >>> 32;
    }

    private void moveScalarLoad(Instruction insn, int dst, int size) {
        if (insn.isMemory()) {
            long value = mmu.read(executor.address(insn), size);
            setXmm(dst, value, 0);
        } else {
            long mask = Flags.mask(size);
            cpu.xmm[2 * dst] = (cpu.xmm[2 * dst] & ~mask) | (cpu.xmm[2 * (insn.rm & 15)] & mask);
        }
    }

    private void moveScalarStore(Instruction insn, int src, int size) {
        if (insn.isMemory()) {
            mmu.write(executor.address(insn), size, cpu.xmm[2 * src]);
        } else {
            long mask = Flags.mask(size);
            int dst = insn.rm & 15;
            cpu.xmm[2 * dst] = (cpu.xmm[2 * dst] & ~mask) | (cpu.xmm[2 * src] & mask);
        }
    }

    // ---- exceptions ----

    private boolean daz() {
        return (cpu.mxcsr & MXCSR_DAZ) != 0;
    }

    private int roundingControl() {
        return (cpu.mxcsr >>> 13) & 3;
    }

    /** Starts a floating-point instruction: no exceptions raised yet; rounding control from MXCSR. */
    private void begin() {
        raised = 0;
        soft.rc = roundingControl();
        soft.ftz = (cpu.mxcsr & MXCSR_FTZ) != 0 && (cpu.mxcsr & MXCSR_UM) != 0;
    }

    /** Takes SoftFloat's flags; an unmasked underflow is raised on tininess alone, exact or not. */
    private void raiseFrom(SoftFloat soft) {
        raised |= soft.flags;
        if (soft.tiny && (cpu.mxcsr & MXCSR_UM) == 0) {
            raised |= SoftFloat.UE;
        }
    }

    /**
     * Ends a floating-point instruction before it writes its destination: the flags become sticky in
     * MXCSR, and an unmasked one raises #XM (#UD if the OS has not enabled #XM) with the destination
     * unchanged.
     */
    private void commit() {
        int flags = raised & 0x3f;
        cpu.mxcsr |= flags;
        int masks = (cpu.mxcsr >>> 7) & 0x3f;
        if ((flags & ~masks) != 0) {
            if ((cpu.cr4 & SpecialRegisters.CR4_OSXMMEXCPT) == 0) {
                throw GuestFault.ud();
            }
            throw GuestFault.of(GuestFault.XM);
        }
    }

    // ---- scalar floating point helpers: singles in the low 32 bits of a long ----

    private static final long D_EXP = 0x7ff0_0000_0000_0000L;
    private static final int F_EXP = 0x7f80_0000;

    /** Normal or zero: the fast paths take these. */
    private static boolean plainD(long bits) {
        long e = bits & D_EXP;
        return e != D_EXP && (e != 0 || (bits << 1) == 0);
    }

    private static boolean plainF(int bits) {
        int e = bits & F_EXP;
        return e != F_EXP && (e != 0 || (bits << 1) == 0);
    }

    private static boolean isNaND(long bits) {
        return (bits & D_EXP) == D_EXP && (bits << 12) != 0;
    }

    private static boolean isNaNF(int bits) {
        return (bits & F_EXP) == F_EXP && (bits << 9) != 0;
    }

    private static boolean isSNaND(long bits) {
        return isNaND(bits) && (bits & (1L << 51)) == 0;
    }

    private static boolean isSNaNF(int bits) {
        return isNaNF(bits) && (bits & (1 << 22)) == 0;
    }

    private static boolean isDenormalD(long bits) {
        return (bits & D_EXP) == 0 && (bits << 1) != 0;
    }

    private static boolean isDenormalF(int bits) {
        return (bits & F_EXP) == 0 && (bits << 1) != 0;
    }

    /** Unpacks an operand, applying DAZ. */
    private SoftFloat.Num unpack(long bits, boolean dbl) {
        SoftFloat.Num n = dbl ? SoftFloat.fromDouble(bits) : SoftFloat.fromSingle((int) bits);
        return n.denormal() && daz() ? SoftFloat.zero(n.neg()) : n;
    }

    private static long pack(SoftFloat.Num n, boolean dbl) {
        return dbl ? SoftFloat.toDouble(n) : SoftFloat.toSingle(n) & 0xffff_ffffL;
    }

    private static long defaultNaN(boolean dbl) {
        return dbl ? 0xfff8_0000_0000_0000L : 0xffc0_0000L;
    }

    /** A denormal operand that DAZ does not zero. */
    private boolean denormalOperand(long bits, boolean dbl) {
        return !daz() && (dbl ? isDenormalD(bits) : isDenormalF((int) bits));
    }

    private static final int ADD = 0x58, MUL = 0x59, SUB = 0x5c, MIN = 0x5d, DIV = 0x5e, MAX = 0x5f, SQRT = 0x51;
    private static final int RSQRT = 0x52, RCP = 0x53;

    /** One lane of ADD/SUB/MUL/DIV/MIN/MAX/SQRT/RSQRT/RCP: a is the destination's lane, b the source's. */
    private long lane(int operation, long a, long b, boolean dbl) {
        if (dbl) {
            if (plainD(a) && plainD(b)) {
                long fast = fastDouble(operation, a, b);
                if (fast != NO_FAST) {
                    return fast;
                }
            }
        } else if (plainF((int) a) && plainF((int) b)) {
            long fast = fastSingle(operation, (int) a, (int) b);
            if (fast != NO_FAST) {
                return fast;
            }
        }
        return slowLane(operation, a, b, dbl);
    }

    /** Marks "the fast path does not apply": not a possible result (lanes are at most 64 bits, this has bits above 32 set for singles and is a NaN pattern the fast path never yields for doubles). */
    private static final long NO_FAST = 0x7ff4_dead_beef_0001L;

    private long fastDouble(int operation, long aBits, long bBits) {
        double a = Double.longBitsToDouble(aBits);
        double b = Double.longBitsToDouble(bBits);
        double r;
        double err;
        switch (operation) {
            case ADD, SUB -> {
                double bb = operation == SUB ? -b : b;
                r = a + bb;
                double ar = Math.abs(r);
                if (!(ar >= 0x1p-1020 && ar < Double.MAX_VALUE)) {
                    return NO_FAST;
                }
                double v = r - a;
                err = (a - (r - v)) + (bb - v);
                if (!Double.isFinite(err)) {
                    // A step of the error term overflowed (operands near DBL_MAX, e.g. 0x1.cedc72681db13p1022 +
                    // -DBL_MAX, whose r - a is beyond -DBL_MAX): no error to round by, so the exact path.
                    return NO_FAST;
                }
            }
            case MUL -> {
                r = a * b;
                double ar = Math.abs(r);
                if (!(ar >= 0x1p-960 && ar < Double.MAX_VALUE)) {
                    return NO_FAST;
                }
                err = Math.fma(a, b, -r);
            }
            case DIV -> {
                r = a / b;
                double ar = Math.abs(r);
                if (!(ar >= 0x1p-1020 && ar < Double.MAX_VALUE) || !(Math.abs(a) >= 0x1p-960)) {
                    return NO_FAST;
                }
                err = Math.fma(-r, b, a);
                if (b < 0) {
                    err = -err;
                }
            }
            case SQRT -> {
                if (!(b >= 0x1p-960)) {
                    return NO_FAST;
                }
                r = Math.sqrt(b);
                err = Math.fma(-r, r, b);
            }
            case MIN -> {
                return a < b ? aBits : bBits;
            }
            case MAX -> {
                return a > b ? aBits : bBits;
            }
            default -> {
                return NO_FAST;
            }
        }
        if (err != 0) {
            raised |= SoftFloat.PE;
            r = directed(r, err);
        }
        return Double.doubleToRawLongBits(r);
    }

    /** Adjusts a round-to-nearest result whose exact value is r + (something of err's sign) to MXCSR.RC. */
    private double directed(double r, double err) {
        return switch (soft.rc) {
            case SoftFloat.RD -> err < 0 ? Math.nextDown(r) : r;
            case SoftFloat.RU -> err > 0 ? Math.nextUp(r) : r;
            case SoftFloat.RZ -> (err < 0 && r > 0) ? Math.nextDown(r) : (err > 0 && r < 0) ? Math.nextUp(r) : r;
            default -> r;
        };
    }

    private float directed(float r, double err) {
        return switch (soft.rc) {
            case SoftFloat.RD -> err < 0 ? Math.nextDown(r) : r;
            case SoftFloat.RU -> err > 0 ? Math.nextUp(r) : r;
            case SoftFloat.RZ -> (err < 0 && r > 0) ? Math.nextDown(r) : (err > 0 && r < 0) ? Math.nextUp(r) : r;
            default -> r;
        };
    }

    /**
     * Singles computed in double: the double result of +, -, x, / and sqrt of two singles, rounded again to
     * single, is the correctly rounded single (53 >= 2 x 24 + 2), and its error is exact.
     */
    private long fastSingle(int operation, int aBits, int bBits) {
        double a = Float.intBitsToFloat(aBits);
        double b = Float.intBitsToFloat(bBits);
        double d;
        double errD;
        switch (operation) {
            case ADD, SUB -> {
                double bb = operation == SUB ? -b : b;
                d = a + bb;
                double v = d - a;
                errD = (a - (d - v)) + (bb - v);
            }
            case MUL -> {
                d = a * b;
                errD = 0;
            }
            case DIV -> {
                if (b == 0) {
                    return NO_FAST;
                }
                d = a / b;
                errD = Math.fma(-d, b, a);
                if (b < 0) {
                    errD = -errD;
                }
            }
            case SQRT -> {
                if (!(b > 0)) {
                    return NO_FAST;
                }
                d = Math.sqrt(b);
                errD = Math.fma(-d, d, b);
            }
            case MIN -> {
                return (a < b ? aBits : bBits) & 0xffff_ffffL;
            }
            case MAX -> {
                return (a > b ? aBits : bBits) & 0xffff_ffffL;
            }
            default -> {
                return NO_FAST;
            }
        }
        float r = (float) d;
        float ar = Math.abs(r);
        if (!(ar >= 0x1p-125f && ar < Float.MAX_VALUE)) {
            return NO_FAST;
        }
        double err = d != r ? d - r : errD;
        if (err != 0) {
            raised |= SoftFloat.PE;
            r = directed(r, err);
        }
        return Float.floatToRawIntBits(r) & 0xffff_ffffL;
    }

    private long slowLane(int operation, long aBits, long bBits, boolean dbl) {
        SoftFloat.Format format = dbl ? SoftFloat.DOUBLE : SoftFloat.SINGLE;
        int precision = format.precision();
        if (operation == SQRT || operation == RSQRT || operation == RCP) {
            if (dbl ? isNaND(bBits) : isNaNF((int) bBits)) {
                if (operation == SQRT && (dbl ? isSNaND(bBits) : isSNaNF((int) bBits))) {
                    raised |= SoftFloat.IE;
                }
                return quiet(bBits, dbl);
            }
            SoftFloat.Num b = unpack(bBits, dbl);
            if (operation != SQRT) {
                return approximate(operation, b);
            }
            if (b.neg() && !b.isZero()) {
                raised |= SoftFloat.IE;
                return defaultNaN(dbl);
            }
            if (denormalOperand(bBits, dbl)) {
                raised |= SoftFloat.DE;
            }
            soft.flags = 0;
            SoftFloat.Num r = soft.sqrt(b, format, precision);
            raiseFrom(soft);
            return pack(r, dbl);
        }
        boolean aNaN = dbl ? isNaND(aBits) : isNaNF((int) aBits);
        boolean bNaN = dbl ? isNaND(bBits) : isNaNF((int) bBits);
        if (operation == MIN || operation == MAX) {
            if (aNaN || bNaN) {
                raised |= SoftFloat.IE;
                return daz() && (dbl ? isDenormalD(bBits) : isDenormalF((int) bBits)) ? pack(unpack(bBits, dbl), dbl) : bBits;
            }
            if (denormalOperand(aBits, dbl) || denormalOperand(bBits, dbl)) {
                raised |= SoftFloat.DE;
            }
            SoftFloat.Num a = unpack(aBits, dbl);
            SoftFloat.Num b = unpack(bBits, dbl);
            int c = SoftFloat.compare(a, b);
            boolean first = operation == MIN ? c < 0 : c > 0;
            // DAZ: a denormal operand takes part as zero and is returned as one.
            return first ? pack(a, dbl) : pack(b, dbl);
        }
        if (aNaN || bNaN) {
            if ((dbl ? isSNaND(aBits) : isSNaNF((int) aBits)) || (dbl ? isSNaND(bBits) : isSNaNF((int) bBits))) {
                raised |= SoftFloat.IE;
            }
            return quiet(aNaN ? aBits : bBits, dbl);
        }
        SoftFloat.Num a = unpack(aBits, dbl);
        SoftFloat.Num b = unpack(bBits, dbl);
        soft.flags = 0;
        SoftFloat.Num r = switch (operation) {
            case ADD -> soft.add(a, b, false, format, precision);
            case SUB -> soft.add(a, b, true, format, precision);
            case MUL -> soft.mul(a, b, format, precision);
            default -> soft.div(a, b, format, precision);
        };
        if (r == null) {
            raised |= SoftFloat.IE;
            return defaultNaN(dbl);
        }
        if ((soft.flags & SoftFloat.ZE) == 0 && (denormalOperand(aBits, dbl) || denormalOperand(bBits, dbl))) {
            raised |= SoftFloat.DE;
        }
        raiseFrom(soft);
        return pack(r, dbl);
    }

    private static long quiet(long bits, boolean dbl) {
        return dbl ? bits | (1L << 51) : (bits | (1L << 22)) & 0xffff_ffffL;
    }

    /** RCPSS/RSQRTSS: 1/x or 1/sqrt(x) to 12 bits (truncated), zero/inf/negative as the hardware does. */
    private long approximate(int operation, SoftFloat.Num b) {
        boolean neg = b.neg();
        if (b.isZero() || b.denormal()) {
            return neg ? 0xff80_0000L : 0x7f80_0000L;
        }
        if (b.isInf()) {
            return operation == RSQRT && neg ? 0xffc0_0000L : (neg ? 0x8000_0000L : 0);
        }
        if (operation == RSQRT && neg) {
            return 0xffc0_0000L;
        }
        double x = Math.abs(Float.intBitsToFloat(SoftFloat.toSingle(b)));
        double r = operation == RCP ? 1 / x : 1 / Math.sqrt(x);
        float f = (float) r;
        int bits = Float.floatToRawIntBits(f);
        if ((bits & F_EXP) == 0 || Float.isInfinite(f)) {
            // The hardware flushes tiny reciprocals to zero and saturates huge ones.
            bits = Float.isInfinite(f) ? 0x7f7f_f000 : 0;
        } else {
            bits &= ~0xfff; // 12 significant bits
        }
        return (bits | (neg ? 0x8000_0000 : 0)) & 0xffff_ffffL;
    }

    private void arithmetic(Instruction insn, int operation, int prefix, int dst, long dLo, long dHi) {
        if ((operation == RSQRT || operation == RCP) && (prefix == 0x66 || prefix == 0xf2)) {
            throw unimplemented();
        }
        begin();
        switch (prefix) {
            case 0xf3 -> { // SS
                long b = read32(insn);
                long r = lane(operation, dLo & 0xffff_ffffL, b, false);
                commit();
                cpu.xmm[2 * dst] = (dLo & 0xffff_ffff_0000_0000L) | r;
            }
            case 0xf2 -> { // SD
                long b = read64(insn);
                long r = lane(operation, dLo, b, true);
                commit();
                cpu.xmm[2 * dst] = r;
            }
            case 0x66 -> { // PD
                read128(insn, true);
                long r0 = lane(operation, dLo, operand[0], true);
                long r1 = lane(operation, dHi, operand[1], true);
                commit();
                setXmm(dst, r0, r1);
            }
            default -> { // PS
                read128(insn, true);
                long s0 = operand[0];
                long s1 = operand[1];
                long r0 = lane(operation, dLo & 0xffff_ffffL, s0 & 0xffff_ffffL, false);
                long r1 = lane(operation, dLo >>> 32, s0 >>> 32, false);
                long r2 = lane(operation, dHi & 0xffff_ffffL, s1 & 0xffff_ffffL, false);
                long r3 = lane(operation, dHi >>> 32, s1 >>> 32, false);
                commit();
                setXmm(dst, r0 | (r1 << 32), r2 | (r3 << 32));
            }
        }
    }

    // ---- comparisons ----

    /** CMPPS/PD/SS/SD: predicate 0-7 (EQ LT LE UNORD NEQ NLT NLE ORD) gives all ones or zeros. */
    private boolean comparePredicate(int predicate, long aBits, long bBits, boolean dbl) {
        boolean aNaN = dbl ? isNaND(aBits) : isNaNF((int) aBits);
        boolean bNaN = dbl ? isNaND(bBits) : isNaNF((int) bBits);
        if (aNaN || bNaN) {
            boolean signaling = (dbl ? isSNaND(aBits) : isSNaNF((int) aBits)) || (dbl ? isSNaND(bBits) : isSNaNF((int) bBits));
            int p = predicate & 3;
            if (signaling || p == 1 || p == 2) {
                raised |= SoftFloat.IE;
            }
            return predicate >= 3 && predicate <= 6; // UNORD, NEQ, NLT, NLE
        }
        if (denormalOperand(aBits, dbl) || denormalOperand(bBits, dbl)) {
            raised |= SoftFloat.DE;
        }
        int c = SoftFloat.compare(unpack(aBits, dbl), unpack(bBits, dbl));
        return switch (predicate) {
            case 0 -> c == 0;
            case 1 -> c < 0;
            case 2 -> c <= 0;
            case 3 -> false;
            case 4 -> c != 0;
            case 5 -> c >= 0;
            case 6 -> c > 0;
            default -> true;
        };
    }

    private void compare(Instruction insn, int prefix, int dst, long dLo, long dHi) {
        int predicate = (int) insn.imm & 7;
        begin();
        switch (prefix) {
            case 0xf3 -> {
                long b = read32(insn);
                boolean r = comparePredicate(predicate, dLo & 0xffff_ffffL, b, false);
                commit();
                cpu.xmm[2 * dst] = (dLo & 0xffff_ffff_0000_0000L) | (r ? 0xffff_ffffL : 0);
            }
            case 0xf2 -> {
                long b = read64(insn);
                boolean r = comparePredicate(predicate, dLo, b, true);
                commit();
                cpu.xmm[2 * dst] = r ? -1L : 0;
            }
            case 0x66 -> {
                read128(insn, true);
                boolean r0 = comparePredicate(predicate, dLo, operand[0], true);
                boolean r1 = comparePredicate(predicate, dHi, operand[1], true);
                commit();
                setXmm(dst, r0 ? -1L : 0, r1 ? -1L : 0);
            }
            default -> {
                read128(insn, true);
                long s0 = operand[0];
                long s1 = operand[1];
                boolean r0 = comparePredicate(predicate, dLo & 0xffff_ffffL, s0 & 0xffff_ffffL, false);
                boolean r1 = comparePredicate(predicate, dLo >>> 32, s0 >>> 32, false);
                boolean r2 = comparePredicate(predicate, dHi & 0xffff_ffffL, s1 & 0xffff_ffffL, false);
                boolean r3 = comparePredicate(predicate, dHi >>> 32, s1 >>> 32, false);
                commit();
                setXmm(dst, (r0 ? 0xffff_ffffL : 0) | (r1 ? 0xffff_ffff_0000_0000L : 0),
                        (r2 ? 0xffff_ffffL : 0) | (r3 ? 0xffff_ffff_0000_0000L : 0));
            }
        }
    }

    /** COMISS/COMISD (any NaN is invalid) and UCOMISS/UCOMISD (only SNaN): ZF, PF, CF; OF, SF, AF cleared. */
    private void compareToFlags(Instruction insn, long dLo, int prefix, boolean signaling) {
        requirePsOrPd(prefix);
        boolean dbl = prefix == 0x66;
        long a = dbl ? dLo : dLo & 0xffff_ffffL;
        long b = dbl ? read64(insn) : read32(insn);
        begin();
        long flags;
        boolean aNaN = dbl ? isNaND(a) : isNaNF((int) a);
        boolean bNaN = dbl ? isNaND(b) : isNaNF((int) b);
        if (aNaN || bNaN) {
            if (signaling || (dbl ? isSNaND(a) || isSNaND(b) : isSNaNF((int) a) || isSNaNF((int) b))) {
                raised |= SoftFloat.IE;
            }
            flags = Flags.ZF | Flags.PF | Flags.CF;
        } else {
            if (denormalOperand(a, dbl) || denormalOperand(b, dbl)) {
                raised |= SoftFloat.DE;
            }
            int c = SoftFloat.compare(unpack(a, dbl), unpack(b, dbl));
            flags = c == 0 ? Flags.ZF : c < 0 ? Flags.CF : 0;
        }
        commit();
        Alu.setArithmetic(cpu, flags);
    }

    // ---- conversions ----

    /** CVTSI2SS, CVTSI2SD: r/m32 or r/m64 (REX.W) to the low lane. */
    private void convertIntegerToScalar(Instruction insn, int dst, int prefix) {
        if (prefix != 0xf3 && prefix != 0xf2) {
            throw unimplemented(); // CVTPI2PS/CVTPI2PD: MMX
        }
        int size = insn.opSize == 8 ? 8 : 4;
        long value = Flags.signExtend(executor.readRm(insn, size), size);
        begin();
        if (prefix == 0xf2) {
            long r = integerToFloat(value, true);
            commit();
            cpu.xmm[2 * dst] = r;
        } else {
            long r = integerToFloat(value, false);
            commit();
            cpu.xmm[2 * dst] = (cpu.xmm[2 * dst] & 0xffff_ffff_0000_0000L) | r;
        }
    }

    private long integerToFloat(long value, boolean dbl) {
        long limit = dbl ? 1L << 53 : 1L << 24;
        if (value >= -limit && value <= limit) {
            return dbl ? Double.doubleToRawLongBits(value) : Float.floatToRawIntBits(value) & 0xffff_ffffL;
        }
        soft.flags = 0;
        SoftFloat.Num r = soft.fromInteger(value, dbl ? SoftFloat.DOUBLE : SoftFloat.SINGLE, dbl ? 53 : 24);
        raiseFrom(soft);
        return pack(r, dbl);
    }

    /** CVT(T)SS2SI, CVT(T)SD2SI: to r32 or r64 (REX.W); NaN and out-of-range give the integer indefinite. */
    private void convertScalarToInteger(Instruction insn, int prefix, boolean truncate) {
        if (prefix != 0xf3 && prefix != 0xf2) {
            throw unimplemented(); // CVT(T)PS2PI/CVT(T)PD2PI: MMX
        }
        boolean dbl = prefix == 0xf2;
        int size = insn.opSize == 8 ? 8 : 4;
        long bits = dbl ? read64(insn) : read32(insn);
        begin();
        long r = floatToInteger(bits, dbl, truncate ? SoftFloat.RZ : roundingControl(), size == 8);
        commit();
        executor.writeReg(insn.reg, size, r, true);
    }

    private long floatToInteger(long bits, boolean dbl, int mode, boolean wide) {
        long indefinite = wide ? Long.MIN_VALUE : 0x8000_0000L;
        double x = dbl ? Double.longBitsToDouble(bits) : Float.intBitsToFloat((int) bits);
        if (Double.isNaN(x) || Double.isInfinite(x)) {
            raised |= SoftFloat.IE;
            return indefinite;
        }
        if (daz() && (dbl ? isDenormalD(bits) : isDenormalF((int) bits))) {
            return 0;
        }
        double r = switch (mode) {
            case SoftFloat.RN -> Math.rint(x);
            case SoftFloat.RD -> Math.floor(x);
            case SoftFloat.RU -> Math.ceil(x);
            default -> x < 0 ? Math.ceil(x) : Math.floor(x);
        };
        boolean fits = wide ? r >= -0x1p63 && r < 0x1p63 : r >= -0x1p31 && r < 0x1p31;
        if (!fits) {
            raised |= SoftFloat.IE;
            return indefinite;
        }
        if (r != x) {
            raised |= SoftFloat.PE;
        }
        long value = (long) r;
        return wide ? value : value & 0xffff_ffffL;
    }

    /** A single or double converted to the other width (SNaN quieted, payload kept as far as it fits). */
    private long convertWidth(long bits, boolean fromDouble) {
        boolean nan = fromDouble ? isNaND(bits) : isNaNF((int) bits);
        if (nan) {
            if (fromDouble ? isSNaND(bits) : isSNaNF((int) bits)) {
                raised |= SoftFloat.IE;
            }
            SoftFloat.Num n = (fromDouble ? SoftFloat.fromDouble(bits) : SoftFloat.fromSingle((int) bits)).quiet();
            return fromDouble ? SoftFloat.toSingle(n) & 0xffff_ffffL : SoftFloat.toDouble(n);
        }
        if (denormalOperand(bits, fromDouble)) {
            raised |= SoftFloat.DE;
        }
        if (!fromDouble) {
            SoftFloat.Num n = unpack(bits, false);
            return SoftFloat.toDouble(n);
        }
        if (plainD(bits)) {
            double d = Double.longBitsToDouble(bits);
            float f = (float) d;
            float af = Math.abs(f);
            if (af >= 0x1p-125f && af < Float.MAX_VALUE) {
                if (f != d) {
                    raised |= SoftFloat.PE;
                    f = directed(f, d - f);
                }
                return Float.floatToRawIntBits(f) & 0xffff_ffffL;
            }
        }
        soft.flags = 0;
        SoftFloat.Num r = soft.round(unpack(bits, true), SoftFloat.SINGLE, 24);
        raiseFrom(soft);
        return SoftFloat.toSingle(r) & 0xffff_ffffL;
    }

    /** CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS. */
    private void convertFloatWidth(Instruction insn, int prefix, int dst, long dLo, long dHi) {
        begin();
        switch (prefix) {
            case 0xf3 -> { // CVTSS2SD
                long r = convertWidth(read32(insn), false);
                commit();
                cpu.xmm[2 * dst] = r;
            }
            case 0xf2 -> { // CVTSD2SS
                long r = convertWidth(read64(insn), true);
                commit();
                cpu.xmm[2 * dst] = (dLo & 0xffff_ffff_0000_0000L) | r;
            }
            case 0x66 -> { // CVTPD2PS
                read128(insn, true);
                long r0 = convertWidth(operand[0], true);
                long r1 = convertWidth(operand[1], true);
                commit();
                setXmm(dst, r0 | (r1 << 32), 0);
            }
            default -> { // CVTPS2PD
                long s = read64(insn);
                long r0 = convertWidth(s & 0xffff_ffffL, false);
                long r1 = convertWidth(s >>> 32, false);
                commit();
                setXmm(dst, r0, r1);
            }
        }
    }

    /** CVTDQ2PS, CVTPS2DQ, CVTTPS2DQ. */
    private void convertPackedInteger(Instruction insn, int prefix, int dst) {
        if (prefix == 0xf2) {
            throw unimplemented();
        }
        read128(insn, true);
        long s0 = operand[0];
        long s1 = operand[1];
        long[] in = {s0 & 0xffff_ffffL, s0 >>> 32, s1 & 0xffff_ffffL, s1 >>> 32};
        long[] out = new long[4];
        begin();
        for (int i = 0; i < 4; i++) {
            out[i] = prefix == 0 ? integerToFloat((int) in[i], false)
                    : floatToInteger(in[i], false, prefix == 0xf3 ? SoftFloat.RZ : roundingControl(), false);
        }
        commit();
        setXmm(dst, out[0] | (out[1] << 32), out[2] | (out[3] << 32));
    }

    /** CVTDQ2PD (F3), CVTPD2DQ (F2), CVTTPD2DQ (66): the 0F E6 row. */
    private void convertE6(Instruction insn, int prefix, int dst) {
        begin();
        if (prefix == 0xf3) {
            long s = read64(insn);
            long r0 = Double.doubleToRawLongBits((int) s);
            long r1 = Double.doubleToRawLongBits((int) (s >>> 32));
            setXmm(dst, r0, r1);
            return;
        }
        read128(insn, true);
        int mode = prefix == 0x66 ? SoftFloat.RZ : roundingControl();
        long r0 = floatToInteger(operand[0], true, mode, false);
        long r1 = floatToInteger(operand[1], true, mode, false);
        commit();
        setXmm(dst, r0 | (r1 << 32), 0);
    }

    // ---- integer SIMD: the 66-prefixed 0F 60-7F and D0-FF rows ----

    private static final long B_HIGH = 0x8080_8080_8080_8080L, B_LOW = 0x7f7f_7f7f_7f7f_7f7fL;
    private static final long W_HIGH = 0x8000_8000_8000_8000L, W_LOW = 0x7fff_7fff_7fff_7fffL;
    private static final long D_HIGH = 0x8000_0000_8000_0000L, D_LOW = 0x7fff_ffff_7fff_ffffL;

    private void integer(Instruction insn, int opcode, int prefix) {
        int dst = insn.reg & 15;
        long dLo = cpu.xmm[2 * dst];
        long dHi = cpu.xmm[2 * dst + 1];
        if (prefix != 0x66) {
            // F3/F2 forms in these rows: MOVDQU, MOVQ, PSHUFHW/LW, CVT*, MOVQ2DQ/MOVDQ2Q (MMX), LDDQU (SSE3).
            switch (opcode) {
                case 0x6f -> {
                    if (prefix != 0xf3) {
                        throw unimplemented();
                    }
                    read128(insn, false);
                    setXmm(dst, operand[0], operand[1]);
                }
                case 0x7f -> {
                    if (prefix != 0xf3) {
                        throw unimplemented();
                    }
                    write128(insn, false, dLo, dHi);
                }
                case 0x7e -> { // MOVQ xmm, xmm/m64
                    if (prefix != 0xf3) {
                        throw unimplemented();
                    }
                    setXmm(dst, read64(insn), 0);
                }
                case 0x70 -> { // PSHUFHW (F3), PSHUFLW (F2)
                    read128(insn, true);
                    int imm = (int) insn.imm;
                    if (prefix == 0xf3) {
                        setXmm(dst, operand[0], shuffleWords(operand[1], imm));
                    } else {
                        setXmm(dst, shuffleWords(operand[0], imm), operand[1]);
                    }
                }
                case 0xe6 -> convertE6(insn, prefix, dst);
                default -> throw unimplemented();
            }
            return;
        }
        switch (opcode) {
            case 0x6e -> { // MOVD/MOVQ xmm, r/m32/64
                int size = insn.opSize == 8 ? 8 : 4;
                setXmm(dst, executor.readRm(insn, size), 0);
                return;
            }
            case 0x7e -> { // MOVD/MOVQ r/m32/64, xmm
                int size = insn.opSize == 8 ? 8 : 4;
                executor.writeRm(insn, size, dLo & Flags.mask(size));
                return;
            }
            case 0x6f -> {
                read128(insn, true);
                setXmm(dst, operand[0], operand[1]);
                return;
            }
            case 0x7f -> {
                write128(insn, true, dLo, dHi);
                return;
            }
            case 0xe7 -> { // MOVNTDQ
                if (!insn.isMemory()) {
                    throw unimplemented();
                }
                write128(insn, true, dLo, dHi);
                return;
            }
            case 0xd6 -> { // MOVQ xmm/m64, xmm
                if (insn.isMemory()) {
                    mmu.write64(executor.address(insn), dLo);
                } else {
                    setXmm(insn.rm & 15, dLo, 0);
                }
                return;
            }
            case 0xd7 -> { // PMOVMSKB r32, xmm
                if (insn.isMemory()) {
                    throw unimplemented();
                }
                long lo = cpu.xmm[2 * (insn.rm & 15)];
                long hi = cpu.xmm[2 * (insn.rm & 15) + 1];
                long mask = Long.compress(lo, B_HIGH) | (Long.compress(hi, B_HIGH) << 8);
                executor.writeReg(insn.reg, 4, mask, true);
                return;
            }
            case 0xc5 -> { // PEXTRW r32, xmm, imm8
                if (insn.isMemory()) {
                    throw unimplemented();
                }
                int index = (int) insn.imm & 7;
                long q = cpu.xmm[2 * (insn.rm & 15) + (index >> 2)];
                executor.writeReg(insn.reg, 4, (q >>> (16 * (index & 3))) & 0xffff, true);
                return;
            }
            case 0xc4 -> { // PINSRW xmm, r32/m16, imm8
                long value = insn.isMemory() ? mmu.read16(executor.address(insn)) : cpu.gpr[insn.rm] & 0xffff;
                int index = (int) insn.imm & 7;
                int shift = 16 * (index & 3);
                int half = 2 * dst + (index >> 2);
                cpu.xmm[half] = (cpu.xmm[half] & ~(0xffffL << shift)) | (value << shift);
                return;
            }
            case 0xf7 -> { // MASKMOVDQU xmm, xmm: byte stores to [RDI]
                if (insn.isMemory()) {
                    throw unimplemented();
                }
                maskedStore(insn, dLo, dHi);
                return;
            }
            case 0x71, 0x72, 0x73 -> { // shifts by immediate
                if (insn.isMemory()) {
                    throw unimplemented();
                }
                shiftImmediate(insn, opcode);
                return;
            }
            case 0xe6 -> {
                convertE6(insn, prefix, dst);
                return;
            }
            case 0x70 -> { // PSHUFD
                read128(insn, true);
                int imm = (int) insn.imm;
                long s0 = operand[0];
                long s1 = operand[1];
                long r0 = dword(s0, s1, imm & 3) | (dword(s0, s1, (imm >> 2) & 3) << 32);
                long r1 = dword(s0, s1, (imm >> 4) & 3) | (dword(s0, s1, (imm >> 6) & 3) << 32);
                setXmm(dst, r0, r1);
                return;
            }
            default -> { }
        }
        if (opcode == 0x7c || opcode == 0x7d || opcode == 0xd0 || opcode == 0x78 || opcode == 0x79
                || opcode == 0x7a || opcode == 0x7b) {
            throw unimplemented(); // SSE3 HADDPD/HSUBPD/ADDSUBPD, SSE4a
        }
        read128(insn, true);
        long sLo = operand[0];
        long sHi = operand[1];
        long rLo;
        long rHi;
        switch (opcode) {
            case 0x60 -> { rLo = interleaveBytes(dLo, sLo); rHi = interleaveBytes(dLo >>> 32, sLo >>> 32); }
            case 0x68 -> { rLo = interleaveBytes(dHi, sHi); rHi = interleaveBytes(dHi >>> 32, sHi >>> 32); }
            case 0x61 -> { rLo = interleaveWords(dLo, sLo); rHi = interleaveWords(dLo >>> 32, sLo >>> 32); }
            case 0x69 -> { rLo = interleaveWords(dHi, sHi); rHi = interleaveWords(dHi >>> 32, sHi >>> 32); }
            case 0x62 -> { rLo = (dLo & 0xffff_ffffL) | (sLo << 32); rHi = (dLo >>> 32) | (sLo & 0xffff_ffff_0000_0000L); }
            case 0x6a -> { rLo = (dHi & 0xffff_ffffL) | (sHi << 32); rHi = (dHi >>> 32) | (sHi & 0xffff_ffff_0000_0000L); }
            case 0x6c -> { rLo = dLo; rHi = sLo; }
            case 0x6d -> { rLo = dHi; rHi = sHi; }
            case 0x63 -> { rLo = packWords(dLo, dHi, true); rHi = packWords(sLo, sHi, true); }
            case 0x67 -> { rLo = packWords(dLo, dHi, false); rHi = packWords(sLo, sHi, false); }
            case 0x6b -> { rLo = packDwords(dLo, dHi); rHi = packDwords(sLo, sHi); }
            case 0x64, 0x65, 0x66, 0x74, 0x75, 0x76, 0xd8, 0xd9, 0xda, 0xdc, 0xdd, 0xde, 0xe0, 0xe3, 0xe4, 0xe5,
                 0xd5, 0xe8, 0xe9, 0xea, 0xec, 0xed, 0xee, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xd4 -> {
                rLo = lanes(opcode, dLo, sLo);
                rHi = lanes(opcode, dHi, sHi);
            }
            case 0xdb -> { rLo = dLo & sLo; rHi = dHi & sHi; }
            case 0xdf -> { rLo = ~dLo & sLo; rHi = ~dHi & sHi; }
            case 0xeb -> { rLo = dLo | sLo; rHi = dHi | sHi; }
            case 0xef -> { rLo = dLo ^ sLo; rHi = dHi ^ sHi; }
            case 0xf4 -> { // PMULUDQ
                rLo = (dLo & 0xffff_ffffL) * (sLo & 0xffff_ffffL);
                rHi = (dHi & 0xffff_ffffL) * (sHi & 0xffff_ffffL);
            }
            case 0xf5 -> { rLo = multiplyAdd(dLo, sLo); rHi = multiplyAdd(dHi, sHi); }
            case 0xf6 -> { rLo = sumAbsoluteDifferences(dLo, sLo); rHi = sumAbsoluteDifferences(dHi, sHi); }
            case 0xd1, 0xd2, 0xd3, 0xe1, 0xe2, 0xf1, 0xf2, 0xf3 -> {
                int kind = switch (opcode) {
                    case 0xd1, 0xd2, 0xd3 -> 2;
                    case 0xe1, 0xe2 -> 4;
                    default -> 6;
                };
                int width = switch (opcode & 0xf) {
                    case 1 -> 16;
                    case 2 -> 32;
                    default -> 64;
                };
                long count = Long.compareUnsigned(sLo, 64) >= 0 ? 64 : sLo;
                rLo = shift(kind, width, dLo, (int) count);
                rHi = shift(kind, width, dHi, (int) count);
            }
            default -> throw unimplemented();
        }
        setXmm(dst, rLo, rHi);
    }

    private void maskedStore(Instruction insn, long dLo, long dHi) {
        long mLo = cpu.xmm[2 * (insn.rm & 15)];
        long mHi = cpu.xmm[2 * (insn.rm & 15) + 1];
        long address = cpu.gpr[CpuState.RDI];
        if (insn.addrSize == 4) {
            address &= 0xffff_ffffL;
        }
        if (insn.segment == CpuState.FS) {
            address += cpu.fsBase;
        } else if (insn.segment == CpuState.GS) {
            address += cpu.gsBase;
        }
        if (((mLo | mHi) & B_HIGH) == 0) {
            return;
        }
        mmu.probeWrite(address, 16);
        for (int i = 0; i < 16; i++) {
            long m = i < 8 ? mLo : mHi;
            long d = i < 8 ? dLo : dHi;
            if (((m >>> (8 * (i & 7) + 7)) & 1) != 0) {
                mmu.write8(address + i, (int) (d >>> (8 * (i & 7))) & 0xff);
            }
        }
    }

    private void shiftImmediate(Instruction insn, int opcode) {
        int group = insn.reg & 7;
        int reg = insn.rm & 15;
        int count = (int) insn.imm & 0xff;
        long lo = cpu.xmm[2 * reg];
        long hi = cpu.xmm[2 * reg + 1];
        if (opcode == 0x73 && (group == 3 || group == 7)) { // PSRLDQ, PSLLDQ: whole register by bytes
            int bits = 8 * Math.min(count, 16);
            if (bits >= 128) {
                setXmm(reg, 0, 0);
            } else if (bits >= 64) {
                if (group == 3) {
                    setXmm(reg, hi >>> (bits - 64), 0);
                } else {
                    setXmm(reg, 0, lo << (bits - 64));
                }
            } else if (bits > 0) {
                if (group == 3) {
                    setXmm(reg, (lo >>> bits) | (hi << (64 - bits)), hi >>> bits);
                } else {
                    setXmm(reg, lo << bits, (hi << bits) | (lo >>> (64 - bits)));
                }
            }
            return;
        }
        int width = opcode == 0x71 ? 16 : opcode == 0x72 ? 32 : 64;
        if ((group != 2 && group != 4 && group != 6) || (group == 4 && width == 64)) {
            throw unimplemented();
        }
        setXmm(reg, shift(group, width, lo, count), shift(group, width, hi, count));
    }

    /** Shifts each {@code width}-bit lane of a quadword: kind 2 logical right, 4 arithmetic right, 6 left. */
    private static long shift(int kind, int width, long value, int count) {
        if (count >= width) {
            if (kind != 4) {
                return 0;
            }
            count = width - 1;
        }
        if (width == 64) {
            return kind == 2 ? value >>> count : kind == 4 ? value >> count : value << count;
        }
        long result = 0;
        long mask = (1L << width) - 1;
        for (int i = 0; i < 64; i += width) {
            long lane = (value >>> i) & mask;
            long r = switch (kind) {
                case 2 -> lane >>> count;
                case 4 -> (width == 16 ? (long) (short) lane : (long) (int) lane) >> count;
                default -> lane << count;
            };
            result |= (r & mask) << i;
        }
        return result;
    }

    private static long shuffleWords(long q, int imm) {
        long r = 0;
        for (int i = 0; i < 4; i++) {
            r |= ((q >>> (16 * ((imm >> (2 * i)) & 3))) & 0xffff) << (16 * i);
        }
        return r;
    }

    /** The low four bytes of a and b interleaved: a0 b0 a1 b1 a2 b2 a3 b3. */
    private static long interleaveBytes(long a, long b) {
        return Long.expand(a & 0xffff_ffffL, 0x00ff_00ff_00ff_00ffL) | Long.expand(b & 0xffff_ffffL, 0xff00_ff00_ff00_ff00L);
    }

    private static long interleaveWords(long a, long b) {
        return (a & 0xffff) | ((b & 0xffff) << 16) | (((a >>> 16) & 0xffff) << 32) | (((b >>> 16) & 0xffff) << 48);
    }

    /** Eight signed words (lo, hi) packed to bytes with signed or unsigned saturation. */
    private static long packWords(long lo, long hi, boolean signed) {
        long r = 0;
        for (int i = 0; i < 8; i++) {
            int w = (short) ((i < 4 ? lo : hi) >>> (16 * (i & 3)));
            int b = signed ? Math.clamp(w, -128, 127) : Math.clamp(w, 0, 255);
            r |= (long) (b & 0xff) << (8 * i);
        }
        return r;
    }

    private static long packDwords(long lo, long hi) {
        long r = 0;
        for (int i = 0; i < 4; i++) {
            int d = (int) ((i < 2 ? lo : hi) >>> (32 * (i & 1)));
            r |= (long) (Math.clamp(d, -32768, 32767) & 0xffff) << (16 * i);
        }
        return r;
    }

    private static long multiplyAdd(long a, long b) {
        long r = 0;
        for (int i = 0; i < 2; i++) {
            int a0 = (short) (a >>> (32 * i));
            int a1 = (short) (a >>> (32 * i + 16));
            int b0 = (short) (b >>> (32 * i));
            int b1 = (short) (b >>> (32 * i + 16));
            r |= ((a0 * b0 + a1 * b1) & 0xffff_ffffL) << (32 * i);
        }
        return r;
    }

    private static long sumAbsoluteDifferences(long a, long b) {
        long sum = 0;
        for (int i = 0; i < 64; i += 8) {
            sum += Math.abs((int) ((a >>> i) & 0xff) - (int) ((b >>> i) & 0xff));
        }
        return sum;
    }

    /** Lane-wise integer operations on one quadword. */
    private static long lanes(int opcode, long a, long b) {
        switch (opcode) {
            case 0xfc -> { return ((a & B_LOW) + (b & B_LOW)) ^ ((a ^ b) & B_HIGH); } // PADDB
            case 0xfd -> { return ((a & W_LOW) + (b & W_LOW)) ^ ((a ^ b) & W_HIGH); } // PADDW
            case 0xfe -> { return ((a & D_LOW) + (b & D_LOW)) ^ ((a ^ b) & D_HIGH); } // PADDD
            case 0xd4 -> { return a + b; } // PADDQ
            case 0xf8 -> { return ((a | B_HIGH) - (b & B_LOW)) ^ ((a ^ ~b) & B_HIGH); } // PSUBB
            case 0xf9 -> { return ((a | W_HIGH) - (b & W_LOW)) ^ ((a ^ ~b) & W_HIGH); } // PSUBW
            case 0xfa -> { return ((a | D_HIGH) - (b & D_LOW)) ^ ((a ^ ~b) & D_HIGH); } // PSUBD
            case 0xfb -> { return a - b; } // PSUBQ
            case 0x74 -> { // PCMPEQB
                long x = a ^ b;
                long zero = ~(((x & B_LOW) + B_LOW) | x) & B_HIGH;
                return (zero >>> 7) * 0xff;
            }
            default -> { }
        }
        int width = switch (opcode) {
            case 0x64, 0x74, 0xd8, 0xda, 0xdc, 0xde, 0xe0, 0xe8, 0xec -> 8;
            case 0x66, 0x76 -> 32;
            default -> 16;
        };
        long mask = (1L << width) - 1;
        long result = 0;
        for (int i = 0; i < 64; i += width) {
            long x = (a >>> i) & mask;
            long y = (b >>> i) & mask;
            long sx = width == 8 ? (byte) x : width == 16 ? (short) x : (int) x;
            long sy = width == 8 ? (byte) y : width == 16 ? (short) y : (int) y;
            long r = switch (opcode) {
                case 0x64, 0x65, 0x66 -> sx > sy ? mask : 0; // PCMPGTB/W/D
                case 0x75, 0x76 -> x == y ? mask : 0; // PCMPEQW/D
                case 0xd8, 0xd9 -> Math.max(x - y, 0); // PSUBUSB/W
                case 0xdc, 0xdd -> Math.min(x + y, mask); // PADDUSB/W
                case 0xe8, 0xe9 -> Math.clamp(sx - sy, -(mask >> 1) - 1, mask >> 1); // PSUBSB/W
                case 0xec, 0xed -> Math.clamp(sx + sy, -(mask >> 1) - 1, mask >> 1); // PADDSB/W
                case 0xda -> Math.min(x, y); // PMINUB
                case 0xde -> Math.max(x, y); // PMAXUB
                case 0xea -> Math.min(sx, sy); // PMINSW
                case 0xee -> Math.max(sx, sy); // PMAXSW
                case 0xe0, 0xe3 -> (x + y + 1) >>> 1; // PAVGB/W
                case 0xd5 -> sx * sy; // PMULLW
                case 0xe5 -> (sx * sy) >> 16; // PMULHW
                case 0xe4 -> (x * y) >>> 16; // PMULHUW
                default -> throw unimplemented();
            };
            result |= (r & mask) << i;
        }
        return result;
    }
}
