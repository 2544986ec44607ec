package io.vmguard.engine.interp.fpu;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.mmu.Mmu;
import java.math.BigInteger;

/**
 * The x87 FPU. Registers are kept as their 80-bit images (so FXSAVE/FXRSTOR and FSTP m80 round-trip
 * exactly) and all arithmetic is exact 64-bit-significand arithmetic ({@link SoftFloat}): the four
 * rounding modes, precision control (24/53/64 bits for FADD/FSUB/FMUL/FDIV/FSQRT and their P, memory and
 * integer forms), denormals, pseudo-denormals and unsupported encodings (unnormals, pseudo-NaN/infinity:
 * invalid), the exception flags with x87 priorities, C1 "rounded up", stack overflow/underflow (IE|SF, C1,
 * real indefinite), the tag word, and x87 NaN rules (the NaN with the larger significand wins, QNaN over
 * SNaN). Checked bit for bit against the host CPU by X87DifferentialTest.
 *
 * <p>Implemented: FLD/FST/FSTP (m32/m64/m80/ST(i)), FILD/FIST/FISTP (m16/m32/m64), FISTTP, FBLD/FBSTP,
 * the constants (rounded as the hardware rounds them under RC), FXCH, FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR in
 * every form, FCHS, FABS, FSQRT, FRNDINT, FSCALE, FXTRACT, FPREM, FPREM1, FCOM/FCOMP/FCOMPP,
 * FUCOM/FUCOMP/FUCOMPP, FICOM/FICOMP, FCOMI/FCOMIP/FUCOMI/FUCOMIP, FCMOVcc, FTST, FXAM, FFREE, FFREEP,
 * FINCSTP, FDECSTP, FNOP, FNSTSW (AX, m16), FNSTCW, FLDCW, FNINIT, FNCLEX, FNSTENV/FLDENV, FNSAVE/FRSTOR
 * (32-bit and 16-bit layouts), and the 387 no-ops FENI/FDISI/FSETPM.
 *
 * <p>Knowingly inexact: F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS are computed to about
 * 200 bits ({@link X87Math}, trigonometric arguments reduced with the FPU's own 66-bit pi) and rounded
 * once, i.e. correctly rounded, where Intel's microcode is only within an ulp of that: now and then the
 * last bit (and C1) differs from the hardware's. Their special operands (zeros, infinities, NaNs, domain
 * errors, the 2^63 range limit of the trigonometric ones) follow the SDM; operands outside the documented
 * domains of F2XM1 (|x| > 1) and FYL2XP1 (|x| >= 1), where the SDM leaves the result undefined, are
 * computed in double precision. The last-instruction pointers (FIP, FDP, FOP, FCS, FDS) are not
 * tracked and read as zero. An unmasked exception sets ES and B; the next waiting x87 instruction then
 * raises #MF ({@link #waitForPending} is FWAIT's, should the decoder route 9B here). Unmasked exceptions
 * behave as on Intel hardware (checked too): IE, ZE and DE (except for loads) leave the destination and
 * the stack unchanged; OE and UE deliver the register result with its exponent adjusted by 24576 and store
 * nothing to memory; comparisons set their condition codes but do not pop.
 */
public final class X87Unit {
    private final CpuState cpu;
    private final Mmu mmu;
    private final Operands executor;
    private final SoftFloat soft = new SoftFloat();
    /** ST registers by physical index: the 64-bit significand and the 16-bit sign/exponent (CpuState's arrays). */
    private final long[] significand;
    private final int[] exponent;

    static final int IE = SoftFloat.IE, DE = SoftFloat.DE, ZE = SoftFloat.ZE, OE = SoftFloat.OE, UE = SoftFloat.UE, PE = SoftFloat.PE;
    static final int SF = 1 << 6, ES = 1 << 7, C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, C3 = 1 << 14, BUSY = 1 << 15;
    private static final int TOP_SHIFT = 11;

    /** Exceptions the current instruction raised (status bit order). */
    private int raised;
    /** C1 as the current instruction leaves it. */
    private boolean c1;

    public X87Unit(CpuState cpu, Mmu mmu, Operands executor) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
        this.significand = cpu.x87Significand;
        this.exponent = cpu.x87Exponent;
    }

    // ---- stack ----

    private int top() {
        return (cpu.fpuStatus >>> TOP_SHIFT) & 7;
    }

    private void setTop(int top) {
        cpu.fpuStatus = (cpu.fpuStatus & ~(7 << TOP_SHIFT)) | ((top & 7) << TOP_SHIFT);
    }

    private int physical(int i) {
        return (top() + i) & 7;
    }

    private boolean isEmpty(int i) {
        return ((cpu.fpuTag >>> (2 * physical(i))) & 3) == 3;
    }

    private SoftFloat.Num st(int i) {
        int p = physical(i);
        return SoftFloat.fromExtended(significand[p], exponent[p]);
    }

    private void setPhysical(int p, long sig, int signExp) {
        significand[p] = sig;
        exponent[p] = signExp & 0xffff;
        cpu.fpuTag = (cpu.fpuTag & ~(3 << (2 * p))) | (tagOf(sig, signExp) << (2 * p));
    }

    private void setSt(int i, SoftFloat.Num n) {
        setPhysical(physical(i), SoftFloat.extendedSignificand(n), SoftFloat.extendedSignExponent(n));
    }

    /** The full tag of a non-empty register: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported). */
    private static int tagOf(long sig, int signExp) {
        int biased = signExp & 0x7fff;
        if (biased == 0) {
            return sig == 0 ? 1 : 2;
        }
        if (biased == 0x7fff || sig >= 0) {
            return 2;
        }
        return 0;
    }

    private void free(int i) {
        cpu.fpuTag |= 3 << (2 * physical(i));
    }

    private void pop() {
        free(0);
        setTop(top() + 1);
    }

    /**
     * Pushes a value; on stack overflow (ST7 in use) raises IE|SF with C1 set and, if IE is masked, pushes
     * the real indefinite instead. Returns false if nothing was pushed (overflow with IE unmasked).
     */
    private boolean push(SoftFloat.Num n) {
        return pushRaw(SoftFloat.extendedSignificand(n), SoftFloat.extendedSignExponent(n));
    }

    /** Pushes an 80-bit image as it is (FLD m80 and FLD ST(i) copy, they do not re-encode). */
    private boolean pushRaw(long sig, int signExp) {
        if (!isEmptyPhysical((top() - 1) & 7)) {
            raised |= IE | SF;
            c1 = true;
            if (!masked(IE)) {
                return false;
            }
            sig = SoftFloat.extendedSignificand(SoftFloat.DEFAULT_NAN);
            signExp = SoftFloat.extendedSignExponent(SoftFloat.DEFAULT_NAN);
        }
        setTop(top() - 1);
        setPhysical(physical(0), sig, signExp);
        return true;
    }

    private boolean isEmptyPhysical(int p) {
        return ((cpu.fpuTag >>> (2 * p)) & 3) == 3;
    }

    /** Stack underflow: IE|SF with C1 clear; true if the instruction may go on with the indefinite (IE masked). */
    private boolean underflow() {
        raised |= IE | SF;
        c1 = false;
        return masked(IE);
    }

    private boolean masked(int exception) {
        return (cpu.fpuControl & exception) != 0;
    }

    // ---- status ----

    private int roundingControl() {
        return (cpu.fpuControl >>> 10) & 3;
    }

    private int precision() {
        return switch ((cpu.fpuControl >>> 8) & 3) {
            case 0 -> 24;
            case 2 -> 53;
            default -> 64;
        };
    }

    /** Sets the condition codes C0-C3 given as status bits, and C1 from {@link #c1} unless given. */
    private void setConditions(int codes) {
        cpu.fpuStatus = (cpu.fpuStatus & ~(C0 | C1 | C2 | C3)) | codes;
    }

    /** Merges this instruction's exceptions and C1 into the status word; an unmasked one sets ES and B. */
    private void finish() {
        cpu.fpuStatus |= raised;
        cpu.fpuStatus = c1 ? cpu.fpuStatus | C1 : cpu.fpuStatus & ~C1;
        updateSummary();
    }

    private void updateSummary() {
        int pending = cpu.fpuStatus & 0x3f & ~cpu.fpuControl;
        if (pending != 0) {
            cpu.fpuStatus |= ES | BUSY;
        } else {
            cpu.fpuStatus &= ~(ES | BUSY);
        }
    }

    /** An unmasked pre-computation exception (IE, DE, ZE): the instruction changes nothing but the status. */
    private boolean blocked() {
        return (raised & (IE | DE | ZE) & ~cpu.fpuControl) != 0;
    }

    // ---- memory ----

    private SoftFloat.Num readReal(long address, int size) {
        return switch (size) {
            case 4 -> SoftFloat.fromSingle(mmu.read32(address));
            case 8 -> SoftFloat.fromDouble(mmu.read64(address));
            default -> SoftFloat.fromExtended(mmu.read64(address), mmu.read16(address + 8));
        };
    }

    private SoftFloat.Num readInteger(long address, int size) {
        long value = Flags.signExtend(mmu.read(address, size), size);
        return integer(value);
    }

    private static SoftFloat.Num integer(long value) {
        if (value == 0) {
            return SoftFloat.zero(false);
        }
        boolean neg = value < 0;
        return SoftFloat.normalized(neg, neg ? -value : value, 0);
    }

    private void write80(long address, SoftFloat.Num n) {
        mmu.probeWrite(address, 10);
        mmu.write64(address, SoftFloat.extendedSignificand(n));
        mmu.write16(address + 8, SoftFloat.extendedSignExponent(n));
    }

    // ---- dispatch ----

    /**
     * FWAIT (9B): #NM if CR0.TS and CR0.MP are set, #MF if an unmasked x87 exception is pending. For the
     * decoder to call (it currently decodes FWAIT as a no-op, which is right unless a guest unmasks x87
     * exceptions: then #MF comes at the next waiting x87 instruction instead).
     */
    void waitForPending() {
        long tsMp = SpecialRegisters.CR0_TS | SpecialRegisters.CR0_MP;
        if ((cpu.cr0 & tsMp) == tsMp) {
            throw GuestFault.of(GuestFault.NM);
        }
        if ((cpu.fpuStatus & ES) != 0) {
            throw GuestFault.of(GuestFault.MF);
        }
    }

    public void execute(Instruction insn) {
        if ((cpu.cr0 & (SpecialRegisters.CR0_EM | SpecialRegisters.CR0_TS)) != 0) {
            throw GuestFault.of(GuestFault.NM);
        }
        int opcode = insn.opcode & 0xff;
        int group = insn.sub & 7;
        int i = insn.rm & 7;
        boolean memory = insn.isMemory();
        if (!nonWaiting(opcode, group, i, memory) && (cpu.fpuStatus & ES) != 0) {
            throw GuestFault.of(GuestFault.MF);
        }
        raised = 0;
        c1 = (cpu.fpuStatus & C1) != 0;
        soft.rc = roundingControl();
        soft.ftz = false;
        if (memory) {
            executeMemory(insn, opcode, group, executor.address(insn));
        } else {
            executeRegister(opcode, group, i);
        }
    }

    /** FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE and FNOP-class control instructions do not wait. */
    private static boolean nonWaiting(int opcode, int group, int i, boolean memory) {
        if (memory) {
            return (opcode == 0xd9 && (group == 6 || group == 7)) || (opcode == 0xdd && (group == 6 || group == 7));
        }
        return (opcode == 0xdb && group == 4) || (opcode == 0xdf && group == 4 && i == 0);
    }

    private void executeMemory(Instruction insn, int opcode, int group, long address) {
        switch (opcode) {
            case 0xd8, 0xdc, 0xda, 0xde -> {
                SoftFloat.Num operand = switch (opcode) {
                    case 0xd8 -> readReal(address, 4);
                    case 0xdc -> readReal(address, 8);
                    case 0xda -> readInteger(address, 4);
                    default -> readInteger(address, 2);
                };
                if (group == 2 || group == 3) {
                    compareWithSt0(operand, false, group == 3);
                } else {
                    arithmeticToSt0(group, operand);
                }
            }
            case 0xd9 -> {
                switch (group) {
                    case 0 -> load(readReal(address, 4), true);
                    case 2, 3 -> storeReal(address, 4, group == 3);
                    case 4 -> loadEnvironment(insn, address);
                    case 5 -> {
                        cpu.fpuControl = controlWord(mmu.read16(address));
                        updateSummary();
                    }
                    case 6 -> storeEnvironment(insn, address);
                    case 7 -> mmu.write16(address, cpu.fpuControl);
                    default -> throw GuestFault.ud();
                }
            }
            case 0xdb -> {
                switch (group) {
                    case 0 -> load(readInteger(address, 4), false);
                    case 1 -> storeInteger(address, 4, true, SoftFloat.RZ);
                    case 2, 3 -> storeInteger(address, 4, group == 3, roundingControl());
                    case 5 -> { // FLD m80: the image as it is, no exceptions but stack overflow
                        long sig = mmu.read64(address);
                        int signExp = mmu.read16(address + 8);
                        c1 = false;
                        pushRaw(sig, signExp);
                        finish();
                    }
                    case 7 -> storeExtended(address);
                    default -> throw GuestFault.ud();
                }
            }
            case 0xdd -> {
                switch (group) {
                    case 0 -> load(readReal(address, 8), true);
                    case 1 -> storeInteger(address, 8, true, SoftFloat.RZ);
                    case 2, 3 -> storeReal(address, 8, group == 3);
                    case 4 -> restoreState(insn, address);
                    case 6 -> saveState(insn, address);
                    case 7 -> mmu.write16(address, cpu.fpuStatus);
                    default -> throw GuestFault.ud();
                }
            }
            case 0xdf -> {
                switch (group) {
                    case 0 -> load(readInteger(address, 2), false);
                    case 1 -> storeInteger(address, 2, true, SoftFloat.RZ);
                    case 2, 3 -> storeInteger(address, 2, group == 3, roundingControl());
                    case 4 -> load(readBcd(address), false);
                    case 5 -> load(readInteger(address, 8), false);
                    case 6 -> storeBcd(address);
                    default -> storeInteger(address, 8, true, roundingControl());
                }
            }
            default -> throw GuestFault.ud();
        }
    }

    private void executeRegister(int opcode, int group, int i) {
        switch (opcode) {
            case 0xd8 -> {
                if (group == 2 || group == 3) {
                    compareRegisters(i, false, group == 3 ? 1 : 0, false);
                } else {
                    arithmeticRegisters(group, 0, i, false);
                }
            }
            case 0xdc -> {
                if (group == 2 || group == 3) { // FCOM2/FCOMP3 aliases
                    compareRegisters(i, false, group == 3 ? 1 : 0, false);
                } else {
                    arithmeticRegisters(group, i, i, false);
                }
            }
            case 0xde -> {
                if (group == 3) {
                    if (i != 1) {
                        throw GuestFault.ud();
                    }
                    compareRegisters(1, false, 2, false); // FCOMPP
                } else if (group == 2) {
                    compareRegisters(i, false, 1, false); // FCOMP5 alias
                } else {
                    arithmeticRegisters(group, i, i, true);
                }
            }
            case 0xd9 -> executeD9(group, i);
            case 0xda -> {
                if (group < 4) {
                    conditionalMove(group, false, i);
                } else if (group == 5 && i == 1) {
                    compareRegisters(1, true, 2, false); // FUCOMPP
                } else {
                    throw GuestFault.ud();
                }
            }
            case 0xdb -> {
                if (group < 4) {
                    conditionalMove(group, true, i);
                } else if (group == 4) {
                    switch (i) {
                        case 0, 1, 4 -> { } // FENI, FDISI, FSETPM: no-ops since the 387
                        case 2 -> { // FNCLEX
                            cpu.fpuStatus &= ~(0xff | BUSY);
                        }
                        case 3 -> initialize();
                        default -> throw GuestFault.ud();
                    }
                } else if (group == 5 || group == 6) {
                    compareRegisters(i, group == 5, 0, true); // FUCOMI, FCOMI
                } else {
                    throw GuestFault.ud();
                }
            }
            case 0xdd -> {
                switch (group) {
                    case 0 -> { // FFREE
                        free(i);
                        finish();
                    }
                    case 1 -> { // FXCH4 alias
                        exchange(i);
                        finish();
                    }
                    case 2, 3 -> {
                        storeRegister(i, group == 3);
                        finish();
                    }
                    case 4, 5 -> compareRegisters(i, true, group == 5 ? 1 : 0, false); // FUCOM, FUCOMP
                    default -> throw GuestFault.ud();
                }
            }
            case 0xdf -> {
                switch (group) {
                    case 0 -> { // FFREEP
                        free(i);
                        pop();
                        finish();
                    }
                    case 1 -> {
                        exchange(i);
                        finish();
                    }
                    case 2, 3 -> {
                        storeRegister(i, true); // FSTP8/FSTP9 aliases
                        finish();
                    }
                    case 4 -> {
                        if (i != 0) {
                            throw GuestFault.ud();
                        }
                        executor.writeReg(CpuState.RAX, 2, cpu.fpuStatus, true); // FNSTSW AX
                    }
                    case 5, 6 -> compareRegisters(i, group == 5, 1, true); // FUCOMIP, FCOMIP
                    default -> throw GuestFault.ud();
                }
            }
            default -> throw GuestFault.ud();
        }
    }

    private void executeD9(int group, int i) {
        switch (group) {
            case 0 -> { // FLD ST(i)
                if (isEmpty(i)) {
                    if (!underflow()) {
                        finish();
                        return;
                    }
                    push(SoftFloat.DEFAULT_NAN);
                } else {
                    c1 = false;
                    int p = physical(i);
                    pushRaw(significand[p], exponent[p]);
                }
                finish();
            }
            case 1 -> {
                exchange(i);
                finish();
            }
            case 2 -> {
                if (i != 0) {
                    throw GuestFault.ud();
                }
                // FNOP
            }
            case 3 -> {
                storeRegister(i, true); // FSTP1 alias
                finish();
            }
            case 4 -> {
                switch (i) {
                    case 0, 1 -> signOperation(i == 0);
                    case 4 -> test();
                    case 5 -> examine();
                    default -> throw GuestFault.ud();
                }
            }
            case 5 -> {
                if (i == 7) {
                    throw GuestFault.ud();
                }
                loadConstant(i);
            }
            case 6 -> {
                switch (i) {
                    case 0 -> transcendental(i); // F2XM1
                    case 1 -> transcendental(i); // FYL2X
                    case 2 -> transcendental(i); // FPTAN
                    case 3 -> transcendental(i); // FPATAN
                    case 4 -> extract();
                    case 5 -> partialRemainder(true);
                    case 6 -> { // FDECSTP
                        setTop(top() - 1);
                        c1 = false;
                        finish();
                    }
                    default -> { // FINCSTP
                        setTop(top() + 1);
                        c1 = false;
                        finish();
                    }
                }
            }
            default -> {
                switch (i) {
                    case 0 -> partialRemainder(false);
                    case 1 -> transcendental(9); // FYL2XP1
                    case 2 -> squareRoot();
                    case 3 -> transcendental(11); // FSINCOS
                    case 4 -> roundToInteger();
                    case 5 -> scale();
                    case 6 -> transcendental(14); // FSIN
                    default -> transcendental(15); // FCOS
                }
            }
        }
    }

    /** A control word as loaded: bits 7 and 13-15 read as zero, bit 6 as one. */
    private static int controlWord(int value) {
        return (value & 0x1f3f) | 0x40;
    }

    private void initialize() {
        cpu.fpuControl = 0x037f;
        cpu.fpuStatus = 0;
        cpu.fpuTag = 0xffff;
    }

    // ---- NaNs and operands ----

    /** x87 NaN propagation for two operands (at least one a NaN): QNaN over SNaN, else the larger significand. */
    private SoftFloat.Num propagate(SoftFloat.Num a, SoftFloat.Num b) {
        if (a.isSignaling() || b.isSignaling()) {
            raised |= IE;
        }
        if (!a.isNaN()) {
            return b.quiet();
        }
        if (!b.isNaN()) {
            return a.quiet();
        }
        boolean aQuiet = !a.isSignaling();
        boolean bQuiet = !b.isSignaling();
        if (aQuiet != bQuiet) {
            return aQuiet ? a : b;
        }
        long sa = a.sig() & ~SoftFloat.QUIET;
        long sb = b.sig() & ~SoftFloat.QUIET;
        int c = Long.compareUnsigned(sa, sb);
        if (c == 0) {
            return (a.neg() ? b : a).quiet();
        }
        return (c > 0 ? a : b).quiet();
    }

    /**
     * The result of a two-operand operation whose operands include a NaN or an unsupported encoding (IE,
     * the real indefinite), or null when both are ordinary numbers.
     */
    private SoftFloat.Num special(SoftFloat.Num a, SoftFloat.Num b) {
        if (a.kind() == SoftFloat.UNSUPPORTED || b.kind() == SoftFloat.UNSUPPORTED) {
            raised |= IE;
            return SoftFloat.DEFAULT_NAN;
        }
        if (a.isNaN() || b.isNaN()) {
            return propagate(a, b);
        }
        return null;
    }

    private SoftFloat.Num special(SoftFloat.Num a) {
        if (a.kind() == SoftFloat.UNSUPPORTED) {
            raised |= IE;
            return SoftFloat.DEFAULT_NAN;
        }
        if (a.isNaN()) {
            if (a.isSignaling()) {
                raised |= IE;
            }
            return a.quiet();
        }
        return null;
    }

    /** Rounds/computes through SoftFloat: flags and C1 from it, unmasked OE/UE bias-adjusted. */
    private SoftFloat.Num compute(int operation, SoftFloat.Num a, SoftFloat.Num b, int precision) {
        SoftFloat.Num r = compute(operation, a, b, SoftFloat.EXTENDED, precision);
        if (r == null) {
            raised |= IE;
            c1 = false;
            return SoftFloat.DEFAULT_NAN;
        }
        boolean overflow = (soft.flags & OE) != 0 && !masked(OE);
        boolean underflow = soft.tiny && !masked(UE);
        if (overflow || underflow) {
            // The SDM's unmasked response: the result with an unbounded exponent, brought into range by 24576.
            SoftFloat.Format wide = new SoftFloat.Format(64, -16382 - 100000, 16383 + 100000);
            r = compute(operation, a, b, wide, precision);
            soft.flags |= overflow ? OE : UE;
            if (r.kind() == SoftFloat.FINITE) {
                int top = 63 + r.exp() + (overflow ? -24576 : 24576);
                if (top < -16382 || top > 16383) {
                    // Out of range even after the adjustment (only FSCALE gets here): zero or infinity.
                    soft.flags |= PE;
                    soft.roundedUp = overflow;
                    r = overflow ? SoftFloat.inf(r.neg()) : SoftFloat.zero(r.neg());
                } else {
                    r = new SoftFloat.Num(SoftFloat.FINITE, r.neg(), r.sig(), r.exp() + (overflow ? -24576 : 24576), false);
                }
            }
        }
        raised |= soft.flags;
        c1 = (soft.flags & PE) != 0 && soft.roundedUp;
        return r;
    }

    private SoftFloat.Num compute(int operation, SoftFloat.Num a, SoftFloat.Num b, SoftFloat.Format format, int precision) {
        soft.flags = 0;
        soft.roundedUp = false;
        return switch (operation) {
            case 0 -> soft.add(a, b, false, format, precision);
            case 1 -> soft.mul(a, b, format, precision);
            case 4 -> soft.add(a, b, true, format, precision);
            case 5 -> soft.add(b, a, true, format, precision);
            case 6 -> soft.div(a, b, format, precision);
            case 7 -> soft.div(b, a, format, precision);
            case 8 -> soft.sqrt(a, format, precision);
            default -> soft.round(a, format, precision);
        };
    }

    // ---- arithmetic ----

    private SoftFloat.Num arithmetic(int group, SoftFloat.Num a, SoftFloat.Num b) {
        SoftFloat.Num s = special(a, b);
        if (s != null) {
            c1 = false;
            return s;
        }
        boolean invalid = isInvalid(group, a, b);
        if (invalid) {
            raised |= IE;
            c1 = false;
            return SoftFloat.DEFAULT_NAN;
        }
        boolean zeroDivide = (group == 6 && b.isZero() && !a.isZero() && !a.isInf())
                || (group == 7 && a.isZero() && !b.isZero() && !b.isInf());
        if (!zeroDivide && (a.denormal() || b.denormal())) {
            raised |= DE;
        }
        if (zeroDivide) {
            raised |= ZE;
            c1 = false;
            return SoftFloat.inf(a.neg() != b.neg());
        }
        if (blocked()) {
            return SoftFloat.DEFAULT_NAN;
        }
        return compute(group, a, b, precision());
    }

    private static boolean isInvalid(int group, SoftFloat.Num a, SoftFloat.Num b) {
        return switch (group) {
            case 0 -> a.isInf() && b.isInf() && a.neg() != b.neg();
            case 4, 5 -> a.isInf() && b.isInf() && a.neg() == b.neg();
            case 1 -> (a.isInf() && b.isZero()) || (a.isZero() && b.isInf());
            default -> (a.isZero() && b.isZero()) || (a.isInf() && b.isInf());
        };
    }

    /** D8/DA/DC/DE memory forms: ST0 = ST0 op m. */
    private void arithmeticToSt0(int group, SoftFloat.Num operand) {
        if (isEmpty(0)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        SoftFloat.Num r = arithmetic(group, st(0), operand);
        if (!blocked()) {
            setSt(0, r);
        }
        finish();
    }

    /** D8 (dest ST0), DC (dest ST(i)), DE (dest ST(i), then pop): a = ST0, b = ST(i). */
    private void arithmeticRegisters(int group, int dest, int i, boolean popAfter) {
        if (isEmpty(0) || isEmpty(i)) {
            if (underflow()) {
                setSt(dest, SoftFloat.DEFAULT_NAN);
                if (popAfter) {
                    pop();
                }
            }
            finish();
            return;
        }
        SoftFloat.Num r = arithmetic(group, st(0), st(i));
        if (!blocked()) {
            setSt(dest, r);
            if (popAfter) {
                pop();
            }
        }
        finish();
    }

    private void squareRoot() {
        if (isEmpty(0)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        SoftFloat.Num r = special(a);
        if (r == null) {
            if (a.neg() && !a.isZero()) {
                raised |= IE;
                r = SoftFloat.DEFAULT_NAN;
            } else {
                if (a.denormal()) {
                    raised |= DE;
                }
                r = blocked() ? null : compute(8, a, null, precision());
            }
        }
        if (r != null && !blocked()) {
            setSt(0, r);
        }
        if ((raised & PE) == 0) {
            c1 = false;
        }
        finish();
    }

    private void roundToInteger() {
        if (isEmpty(0)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        SoftFloat.Num r = special(a);
        c1 = false;
        if (r == null) {
            if (a.denormal()) {
                raised |= DE;
            }
            if (a.kind() != SoftFloat.FINITE || blocked() || a.exp() >= 0) { // (exp >= 0: already an integer)
                r = a;
            } else {
                soft.flags = 0;
                BigInteger v = soft.toInteger(a, soft.rc);
                raised |= soft.flags;
                if (v.signum() == 0) {
                    r = SoftFloat.zero(a.neg());
                } else {
                    r = soft.round(v.signum() < 0, v.abs(), 0, SoftFloat.EXTENDED, 64);
                    c1 = (raised & PE) != 0 && compareMagnitude(r, a) > 0;
                }
            }
        }
        if (!blocked()) {
            setSt(0, r);
        }
        finish();
    }

    private static int compareMagnitude(SoftFloat.Num a, SoftFloat.Num b) {
        return SoftFloat.compare(a.withSign(false), b.withSign(false));
    }

    /** FSCALE: ST0 x 2^trunc(ST1). */
    private void scale() {
        if (isEmpty(0) || isEmpty(1)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        SoftFloat.Num b = st(1);
        SoftFloat.Num r = special(a, b);
        c1 = false;
        if (r == null) {
            if (a.denormal() || b.denormal()) {
                raised |= DE;
            }
            if (b.isInf()) {
                if ((a.isZero() && !b.neg()) || (a.isInf() && b.neg())) {
                    raised |= IE;
                    r = SoftFloat.DEFAULT_NAN;
                } else {
                    r = a.isZero() || a.isInf() ? a : b.neg() ? SoftFloat.zero(a.neg()) : SoftFloat.inf(a.neg());
                }
            } else if (a.kind() != SoftFloat.FINITE) {
                r = a;
            } else if (!blocked()) {
                soft.flags = 0;
                BigInteger n = b.isZero() ? BigInteger.ZERO : soft.toInteger(b, SoftFloat.RZ);
                soft.flags = 0;
                int shift = n.bitLength() > 20 ? (n.signum() < 0 ? -(1 << 20) : 1 << 20) : n.intValue();
                SoftFloat.Num scaled = new SoftFloat.Num(SoftFloat.FINITE, a.neg(), a.sig(), a.exp() + shift, false);
                r = compute(-1, scaled, null, 64);
            }
        }
        if (r != null && !blocked()) {
            setSt(0, r);
        }
        finish();
    }

    /** FXTRACT: ST0 becomes its exponent, then its significand (in [1, 2)) is pushed. */
    private void extract() {
        if (isEmpty(0)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
                if (push(SoftFloat.DEFAULT_NAN)) {
                    c1 = false;
                }
            }
            finish();
            return;
        }
        if (!isEmptyPhysical((top() - 1) & 7)) {
            raised |= IE | SF;
            c1 = true;
            if (masked(IE)) {
                setSt(0, SoftFloat.DEFAULT_NAN);
                setTop(top() - 1);
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        SoftFloat.Num exponentPart;
        SoftFloat.Num significandPart;
        SoftFloat.Num s = special(a);
        c1 = false;
        if (s != null) {
            exponentPart = s;
            significandPart = s;
        } else if (a.isZero()) {
            raised |= ZE;
            exponentPart = SoftFloat.inf(true);
            significandPart = a;
        } else if (a.isInf()) {
            exponentPart = SoftFloat.inf(false);
            significandPart = a;
        } else {
            if (a.denormal()) {
                raised |= DE;
            }
            SoftFloat.Num n = SoftFloat.normalized(a.neg(), a.sig(), a.exp());
            int e = 63 + n.exp();
            exponentPart = integer(e);
            significandPart = new SoftFloat.Num(SoftFloat.FINITE, a.neg(), n.sig(), -63, false);
        }
        if (!blocked()) {
            setSt(0, exponentPart);
            push(significandPart);
        }
        finish();
    }

    /** FPREM (truncating quotient) and FPREM1 (IEEE remainder). */
    private void partialRemainder(boolean ieee) {
        if (isEmpty(0) || isEmpty(1)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            cpu.fpuStatus &= ~C2;
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        SoftFloat.Num b = st(1);
        SoftFloat.Num r = special(a, b);
        int codes = cpu.fpuStatus & (C0 | C3);
        c1 = (cpu.fpuStatus & C1) != 0;
        boolean complete = true;
        if (r == null) {
            if (a.isInf() || b.isZero()) {
                raised |= IE;
                r = SoftFloat.DEFAULT_NAN;
            } else {
                if (a.denormal() || b.denormal()) {
                    raised |= DE;
                }
                if (a.isZero() || b.isInf()) {
                    // ST(0) unchanged (SDM Vol. 2A FPREM/FPREM1 results table, which assumes no underflow). A
                    // denormal ST(0) is a tiny result like any other (SDM Vol. 1 8.5.5, #U is among FPREM's
                    // exceptions): with UE unmasked it is delivered normalised, its exponent biased by 24576.
                    r = a.isZero() || blocked() ? a : compute(-1, a, null, 64);
                    codes = 0;
                    c1 = false;
                } else {
                    SoftFloat.Num na = SoftFloat.normalized(a.neg(), a.sig(), a.exp());
                    SoftFloat.Num nb = SoftFloat.normalized(b.neg(), b.sig(), b.exp());
                    int d = na.exp() - nb.exp();
                    int scaleExp = nb.exp();
                    if (d >= 64) {
                        int n = 32 + (d & 31);
                        scaleExp += d - n;
                        complete = false;
                    }
                    BigInteger ma = SoftFloat.unsigned(na.sig());
                    BigInteger mb = SoftFloat.unsigned(nb.sig());
                    int exp = Math.min(na.exp(), scaleExp);
                    BigInteger num = ma.shiftLeft(na.exp() - exp);
                    BigInteger den = mb.shiftLeft(scaleExp - exp);
                    BigInteger[] qr = num.divideAndRemainder(den);
                    BigInteger q = qr[0];
                    BigInteger rem = qr[1];
                    boolean negative = a.neg();
                    if (ieee && complete) {
                        int c = rem.shiftLeft(1).compareTo(den);
                        if (c > 0 || (c == 0 && q.testBit(0))) {
                            q = q.add(BigInteger.ONE);
                            rem = den.subtract(rem);
                            negative = !negative;
                        }
                    }
                    if (complete) {
                        codes = (q.testBit(2) ? C0 : 0) | (q.testBit(1) ? C3 : 0);
                        c1 = q.testBit(0);
                    }
                    if (rem.signum() == 0) {
                        r = SoftFloat.zero(a.neg());
                    } else if (!blocked()) {
                        // Exact; only a denormal remainder with UE unmasked makes a difference (UE, bias).
                        int zeros = rem.getLowestSetBit();
                        SoftFloat.Num exact = new SoftFloat.Num(SoftFloat.FINITE, negative, rem.shiftRight(zeros).longValue(),
                                exp + zeros, false);
                        boolean q0 = c1;
                        r = compute(-1, exact, null, 64);
                        c1 = q0;
                    }
                }
            }
        }
        if (!blocked()) {
            setSt(0, r);
            setConditions(codes | (complete ? 0 : C2));
        } else {
            c1 = (cpu.fpuStatus & C1) != 0;
        }
        finish();
    }

    private void signOperation(boolean change) {
        if (isEmpty(0)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        int p = physical(0);
        int signExp = change ? exponent[p] ^ 0x8000 : exponent[p] & 0x7fff;
        setPhysical(p, significand[p], signExp);
        c1 = false;
        finish();
    }

    // ---- loads and stores ----

    /** FLD m32/m64/m80, FILD, FBLD: m32/m64 SNaNs raise IE and load quieted, their denormals raise DE. */
    private void load(SoftFloat.Num value, boolean convert) {
        if (convert) {
            if (value.isSignaling()) {
                raised |= IE;
                value = value.quiet();
            } else if (value.denormal()) {
                raised |= DE; // even unmasked, the value is loaded
            }
            if ((raised & IE) != 0 && !masked(IE)) {
                finish();
                return;
            }
        }
        c1 = false;
        push(value);
        finish();
    }

    /** FST/FSTP m32/m64: rounded under RC (precision control does not apply). */
    private void storeReal(long address, int size, boolean popAfter) {
        SoftFloat.Num value;
        if (isEmpty(0)) {
            if (!underflow()) {
                finish();
                return;
            }
            value = SoftFloat.DEFAULT_NAN;
        } else {
            value = st(0);
            c1 = false;
        }
        SoftFloat.Num r = special(value);
        boolean store = true;
        if (r == null) {
            SoftFloat.Format format = size == 4 ? SoftFloat.SINGLE : SoftFloat.DOUBLE;
            soft.flags = 0;
            r = soft.round(value, format, format.precision());
            boolean overflowTrap = (soft.flags & OE) != 0 && !masked(OE);
            boolean underflowTrap = soft.tiny && !masked(UE);
            if (overflowTrap || underflowTrap) {
                // Unmasked: nothing is stored and only OE or UE is reported.
                raised |= overflowTrap ? OE : UE;
                c1 = false;
                store = false;
            } else {
                raised |= soft.flags;
                c1 = (soft.flags & PE) != 0 && soft.roundedUp;
            }
        }
        if (blocked()) {
            store = false;
        }
        if (store) {
            if (size == 4) {
                mmu.write32(address, SoftFloat.toSingle(r));
            } else {
                mmu.write64(address, SoftFloat.toDouble(r));
            }
            if (popAfter) {
                pop();
            }
        }
        finish();
    }

    private void storeExtended(long address) {
        SoftFloat.Num value;
        if (isEmpty(0)) {
            if (!underflow()) {
                finish();
                return;
            }
            value = SoftFloat.DEFAULT_NAN;
            write80(address, value);
        } else {
            int p = physical(0);
            mmu.probeWrite(address, 10);
            mmu.write64(address, significand[p]);
            mmu.write16(address + 8, exponent[p]);
            c1 = false;
        }
        pop();
        finish();
    }

    /** FST/FSTP ST(i): copies the 80-bit image. */
    private void storeRegister(int i, boolean popAfter) {
        if (isEmpty(0)) {
            if (!underflow()) {
                return;
            }
            setSt(i, SoftFloat.DEFAULT_NAN);
        } else {
            int p = physical(0);
            setPhysical(physical(i), significand[p], exponent[p]);
            c1 = false;
        }
        if (popAfter) {
            pop();
        }
    }

    /** FIST/FISTP/FISTTP m16/m32/m64: NaN, infinity and out of range give the integer indefinite (IE). */
    private void storeInteger(long address, int size, boolean popAfter, int mode) {
        long indefinite = size == 8 ? Long.MIN_VALUE : 1L << (8 * size - 1);
        Long value = roundTopForStore(mode, 8 * size, Long.MIN_VALUE, Long.MAX_VALUE, indefinite);
        if (value != null) {
            mmu.write(address, size, value);
            if (popAfter) {
                pop();
            }
        }
        finish();
    }

    /**
     * ST0 rounded by {@code mode} to a {@code bits}-bit integer in [{@code min}, {@code max}], for the integer
     * and BCD stores: the integer; {@code indefinite} for an empty register (stack underflow masked), a NaN, an
     * infinity or a value out of range (IE); or null when an unmasked exception forbids the store. Sets C1
     * (rounded up in magnitude) and the raised flags.
     */
    private Long roundTopForStore(int mode, int bits, long min, long max, long indefinite) {
        if (isEmpty(0)) {
            return underflow() ? indefinite : null;
        }
        SoftFloat.Num a = st(0);
        c1 = false;
        long value;
        if (a.kind() == SoftFloat.NAN || a.kind() == SoftFloat.UNSUPPORTED || a.isInf()) {
            raised |= IE;
            value = indefinite;
        } else {
            soft.flags = 0;
            Long v = a.isZero() ? Long.valueOf(0) : soft.toInt(a, mode, bits);
            if (v == null || v < min || v > max) {
                raised |= IE;
                value = indefinite;
            } else {
                raised |= soft.flags;
                value = v;
                if ((soft.flags & PE) != 0) {
                    c1 = magnitudeGreater(v, a);
                }
            }
        }
        return blocked() ? null : value;
    }

    /** Whether |v| > |a| exactly (v an integer that a rounded to). */
    private static boolean magnitudeGreater(long v, SoftFloat.Num a) {
        SoftFloat.Num n = integer(v);
        return compareMagnitude(n, a) > 0;
    }

    // ---- BCD ----

    private static final long BCD_MAX = 999_999_999_999_999_999L;

    private SoftFloat.Num readBcd(long address) {
        long digits = mmu.read64(address);
        int high = mmu.read8(address + 8);
        int sign = mmu.read8(address + 9);
        long value = 0;
        for (int i = 1; i >= 0; i--) {
            value = value * 10 + ((high >>> (4 * i)) & 0xf);
        }
        for (int i = 15; i >= 0; i--) {
            value = value * 10 + ((digits >>> (4 * i)) & 0xf);
        }
        SoftFloat.Num n = integer(value);
        return (sign & 0x80) != 0 ? (n.isZero() ? SoftFloat.zero(true) : n.negate()) : n;
    }

    private void storeBcd(long address) {
        // Eighteen digits; Long.MIN_VALUE (far outside them) stands for the BCD indefinite.
        Long rounded = roundTopForStore(roundingControl(), 64, -BCD_MAX, BCD_MAX, Long.MIN_VALUE);
        if (rounded == null) {
            finish();
            return;
        }
        boolean indefinite = rounded == Long.MIN_VALUE;
        boolean negative = !indefinite && st(0).neg();
        long value = Math.abs(rounded);
        mmu.probeWrite(address, 10);
        if (indefinite) {
            mmu.write64(address, 0xc000_0000_0000_0000L);
            mmu.write16(address + 8, 0xffff);
        } else {
            long digits = 0;
            for (int i = 0; i < 16; i++) {
                digits |= (value % 10) << (4 * i);
                value /= 10;
            }
            int high = (int) (value % 10) | (int) ((value / 10) % 10) << 4;
            mmu.write64(address, digits);
            mmu.write8(address + 8, high);
            mmu.write8(address + 9, negative ? 0x80 : 0);
        }
        pop();
        finish();
    }

    // ---- constants ----

    /** 128-bit significands (leading bit set) and the exponent of their leading bit. */
    private static final BigInteger[] CONSTANTS = {
            new BigInteger("c90fdaa22168c234c4c6628b80dc1cd1", 16), // pi
            new BigInteger("d49a784bcd1b8afe492bf6ff4dafdb4d", 16), // log2(10)
            new BigInteger("b8aa3b295c17f0bbbe87fed0691d3e89", 16), // log2(e)
            new BigInteger("9a209a84fbcff7988f8959ac0b7c9178", 16), // log10(2)
            new BigInteger("b17217f7d1cf79abc9e3b39803f2f6af", 16), // ln(2)
    };
    private static final int[] CONSTANT_EXPONENTS = {1, 1, 0, -2, -1};

    private void loadConstant(int which) {
        SoftFloat.Num value = switch (which) {
            case 0 -> SoftFloat.normalized(false, 1, 0); // FLD1
            case 1 -> constant(1); // FLDL2T
            case 2 -> constant(2); // FLDL2E
            case 3 -> constant(0); // FLDPI
            case 4 -> constant(3); // FLDLG2
            case 5 -> constant(4); // FLDLN2
            default -> SoftFloat.zero(false); // FLDZ
        };
        c1 = false;
        push(value);
        finish();
    }

    private SoftFloat.Num constant(int index) {
        int saved = soft.flags;
        SoftFloat.Num n = soft.round(false, CONSTANTS[index], CONSTANT_EXPONENTS[index] - 127, SoftFloat.EXTENDED, 64);
        soft.flags = saved;
        return n;
    }

    // ---- comparisons and classification ----

    /**
     * Compares a with b: 1, 0, -1 or 2 for unordered. IE for unsupported operands and SNaNs, and for QNaNs
     * too unless {@code quiet} (FUCOM*); DE for denormals when ordered.
     */
    private int compare(SoftFloat.Num a, SoftFloat.Num b, boolean quiet) {
        if (a.kind() == SoftFloat.UNSUPPORTED || b.kind() == SoftFloat.UNSUPPORTED) {
            raised |= IE;
            return 2;
        }
        if (a.isNaN() || b.isNaN()) {
            if (!quiet || a.isSignaling() || b.isSignaling()) {
                raised |= IE;
            }
            return 2;
        }
        if (a.denormal() || b.denormal()) {
            raised |= DE;
        }
        return Integer.signum(SoftFloat.compare(a, b));
    }

    private static int conditionCodes(int relation) {
        return switch (relation) {
            case 1 -> 0;
            case -1 -> C0;
            case 0 -> C3;
            default -> C3 | C2 | C0;
        };
    }

    private static long eflags(int relation) {
        return switch (relation) {
            case 1 -> 0;
            case -1 -> Flags.CF;
            case 0 -> Flags.ZF;
            default -> Flags.ZF | Flags.PF | Flags.CF;
        };
    }

    /**
     * FCOM/FCOMP/FICOM/FICOMP with a memory operand. Comparisons set their condition codes (or EFLAGS)
     * even when they raise an unmasked exception; then they do not pop.
     */
    private void compareWithSt0(SoftFloat.Num operand, boolean quiet, boolean popAfter) {
        int relation;
        if (isEmpty(0)) {
            underflow();
            relation = 2;
        } else {
            relation = compare(st(0), operand, quiet);
            c1 = false;
        }
        setConditions(conditionCodes(relation));
        if (popAfter && !blocked()) {
            pop();
        }
        finish();
    }

    /** Register comparisons; {@code pops} is 0, 1 or 2; {@code toEflags} for FCOMI/FUCOMI(P). */
    private void compareRegisters(int i, boolean quiet, int pops, boolean toEflags) {
        int relation;
        if (isEmpty(0) || isEmpty(i)) {
            underflow();
            relation = 2;
        } else {
            relation = compare(st(0), st(i), quiet);
            c1 = false;
        }
        if (toEflags) {
            Alu.setArithmetic(cpu, eflags(relation));
        } else {
            setConditions(conditionCodes(relation));
        }
        if (!blocked()) {
            for (int k = 0; k < pops; k++) {
                pop();
            }
        }
        finish();
    }

    private void test() {
        int relation;
        if (isEmpty(0)) {
            underflow();
            relation = 2;
        } else {
            relation = compare(st(0), SoftFloat.zero(false), false);
            c1 = false;
        }
        setConditions(conditionCodes(relation));
        finish();
    }

    /** FXAM: class in C3 C2 C0, sign in C1; never an exception. */
    private void examine() {
        int p = physical(0);
        boolean negative = (exponent[p] & 0x8000) != 0;
        int codes;
        if (isEmpty(0)) {
            codes = C3 | C0;
        } else {
            SoftFloat.Num n = st(0);
            codes = switch (n.kind()) {
                case SoftFloat.UNSUPPORTED -> 0;
                case SoftFloat.NAN -> C0;
                case SoftFloat.INF -> C2 | C0;
                case SoftFloat.ZERO -> C3;
                default -> n.denormal() ? C3 | C2 : C2;
            };
        }
        c1 = negative;
        setConditions(codes);
        finish();
    }

    // ---- moves ----

    private void exchange(int i) {
        if (isEmpty(0) || isEmpty(i)) {
            if (!underflow()) {
                return;
            }
            if (isEmpty(0)) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            if (isEmpty(i)) {
                setSt(i, SoftFloat.DEFAULT_NAN);
            }
        }
        int p0 = physical(0);
        int pi = physical(i);
        long sig = significand[p0];
        int se = exponent[p0];
        setPhysical(p0, significand[pi], exponent[pi]);
        setPhysical(pi, sig, se);
        if ((raised & SF) == 0) {
            c1 = false;
        }
    }

    /** FCMOVB/E/BE/U (DA) and FCMOVNB/NE/NBE/NU (DB). */
    private void conditionalMove(int condition, boolean negate, int i) {
        if (isEmpty(0) || isEmpty(i)) {
            if (underflow()) {
                setSt(0, SoftFloat.DEFAULT_NAN);
            }
            finish();
            return;
        }
        int cc = switch (condition) {
            case 0 -> 0x2; // B
            case 1 -> 0x4; // E
            case 2 -> 0x6; // BE
            default -> 0xa; // P (unordered)
        };
        if (Flags.condition(cpu, negate ? cc | 1 : cc)) {
            int pi = physical(i);
            setPhysical(physical(0), significand[pi], exponent[pi]);
        }
        c1 = false;
        finish();
    }

    // ---- environment ----

    /** The full tag word (2 bits per physical register), recomputed from the registers' contents. */
    private int fullTag() {
        int tag = 0;
        for (int p = 0; p < 8; p++) {
            int t = isEmptyPhysical(p) ? 3 : tagOf(significand[p], exponent[p]);
            tag |= t << (2 * p);
        }
        return tag;
    }

    private boolean shortEnvironment(Instruction insn) {
        return insn.opSize == 2;
    }

    /** FNSTENV: stores the environment, then masks every exception. */
    private void storeEnvironment(Instruction insn, long address) {
        writeEnvironment(insn, address);
        cpu.fpuControl |= 0x3f;
        updateSummary();
    }

    private int writeEnvironment(Instruction insn, long address) {
        if (shortEnvironment(insn)) {
            mmu.probeWrite(address, 14);
            mmu.write16(address, cpu.fpuControl);
            mmu.write16(address + 2, cpu.fpuStatus);
            mmu.write16(address + 4, fullTag());
            for (int k = 6; k < 14; k += 2) {
                mmu.write16(address + k, 0);
            }
            return 14;
        }
        mmu.probeWrite(address, 28);
        mmu.write32(address, 0xffff_0000 | cpu.fpuControl);
        mmu.write32(address + 4, 0xffff_0000 | cpu.fpuStatus);
        mmu.write32(address + 8, 0xffff_0000 | fullTag());
        mmu.write32(address + 12, 0);
        mmu.write32(address + 16, 0);
        mmu.write32(address + 20, 0);
        mmu.write32(address + 24, 0xffff_0000);
        return 28;
    }

    private int readEnvironment(Instruction insn, long address) {
        int control;
        int status;
        int tag;
        int size;
        if (shortEnvironment(insn)) {
            control = mmu.read16(address);
            status = mmu.read16(address + 2);
            tag = mmu.read16(address + 4);
            size = 14;
        } else {
            control = mmu.read16(address);
            status = mmu.read16(address + 4);
            tag = mmu.read16(address + 8);
            size = 28;
        }
        cpu.fpuControl = controlWord(control);
        cpu.fpuStatus = status;
        // Only "empty" is taken from the tag word; the other tags follow the registers' contents.
        int full = 0;
        for (int p = 0; p < 8; p++) {
            full |= (((tag >>> (2 * p)) & 3) == 3 ? 3 : 0) << (2 * p);
        }
        cpu.fpuTag = full;
        updateSummary();
        return size;
    }

    private void loadEnvironment(Instruction insn, long address) {
        readEnvironment(insn, address);
    }

    /** FNSAVE: environment, ST0-ST7, then FNINIT. */
    private void saveState(Instruction insn, long address) {
        int size = shortEnvironment(insn) ? 14 : 28;
        mmu.probeWrite(address, size + 80);
        writeEnvironment(insn, address);
        for (int i = 0; i < 8; i++) {
            int p = physical(i);
            mmu.write64(address + size + 10L * i, significand[p]);
            mmu.write16(address + size + 10L * i + 8, exponent[p]);
        }
        initialize();
    }

    private void restoreState(Instruction insn, long address) {
        int size = shortEnvironment(insn) ? 14 : 28;
        long[] sig = new long[8];
        int[] se = new int[8];
        for (int i = 0; i < 8; i++) {
            sig[i] = mmu.read64(address + size + 10L * i);
            se[i] = mmu.read16(address + size + 10L * i + 8);
        }
        readEnvironment(insn, address);
        for (int i = 0; i < 8; i++) {
            int p = physical(i);
            significand[p] = sig[i];
            exponent[p] = se[i];
        }
    }

    // ---- transcendental functions (double precision) ----

    private static double toDouble(SoftFloat.Num n) {
        return Double.longBitsToDouble(SoftFloat.toDouble(new SoftFloat().round(n, SoftFloat.DOUBLE, 53)));
    }

    private SoftFloat.Num fromDouble(double d) {
        return SoftFloat.fromDouble(Double.doubleToRawLongBits(d));
    }

    /** (-1)^neg x pi x quarters / 4, rounded under RC from the 128-bit constant: PE, and C1 if rounded up. */
    private SoftFloat.Num piQuarters(boolean neg, int quarters) {
        soft.flags = 0;
        SoftFloat.Num r = soft.round(neg, CONSTANTS[0].multiply(BigInteger.valueOf(quarters)), CONSTANT_EXPONENTS[0] - 127 - 2,
                SoftFloat.EXTENDED, 64);
        raised |= PE;
        c1 = soft.roundedUp;
        return r;
    }

    /** Rounds a high-precision approximation to the 80-bit format: PE (it is inexact), C1 if rounded up. */
    private SoftFloat.Num rounded(X87Math.Approx approx) {
        X87Math.Binary b = X87Math.toBinary(approx);
        soft.flags = 0;
        SoftFloat.Num r = soft.round(b.negative(), b.mag(), b.exp(), SoftFloat.EXTENDED, 64);
        raised |= soft.flags;
        c1 = soft.roundedUp;
        return r;
    }

    /** A result computed in double precision (operands outside a function's domain): PE unless zero or infinite. */
    private SoftFloat.Num approximate(double v) {
        if (Double.isNaN(v)) {
            raised |= IE;
            return SoftFloat.DEFAULT_NAN;
        }
        if (v != 0 && !Double.isInfinite(v)) {
            raised |= PE;
        }
        return fromDouble(v);
    }

    /** FPATAN: atan2(ST1, ST0); exact special cases are the multiples of pi/4 and signed zeros. */
    private SoftFloat.Num arctangent(SoftFloat.Num x, SoftFloat.Num y) {
        boolean neg = y.neg();
        if (y.isZero()) {
            return !x.neg() ? SoftFloat.zero(neg) : piQuarters(neg, 4);
        }
        if (y.isInf()) {
            return piQuarters(neg, x.isInf() ? (x.neg() ? 3 : 1) : 2);
        }
        if (x.isZero()) {
            return piQuarters(neg, 2);
        }
        if (x.isInf()) {
            return x.neg() ? piQuarters(neg, 4) : SoftFloat.zero(neg);
        }
        return rounded(X87Math.arctangent(y, x));
    }

    /** FYL2X: ST1 x log2(ST0), exact when ST0 is a power of two. */
    private SoftFloat.Num logarithm(SoftFloat.Num x, SoftFloat.Num y) {
        if (x.neg() && !x.isZero()) {
            raised |= IE;
            return SoftFloat.DEFAULT_NAN;
        }
        if (x.isZero()) {
            if (y.isZero()) {
                raised |= IE;
                return SoftFloat.DEFAULT_NAN;
            }
            if (!y.isInf()) {
                raised |= ZE;
            }
            return SoftFloat.inf(!y.neg());
        }
        if (x.isInf()) {
            if (y.isZero()) {
                raised |= IE;
                return SoftFloat.DEFAULT_NAN;
            }
            return SoftFloat.inf(y.neg());
        }
        SoftFloat.Num n = SoftFloat.normalized(false, x.sig(), x.exp());
        if (n.sig() == SoftFloat.INTEGER_BIT) { // a power of two: log2 is an integer
            int k = 63 + n.exp();
            if (y.isInf()) {
                if (k == 0) {
                    raised |= IE;
                    return SoftFloat.DEFAULT_NAN;
                }
                return SoftFloat.inf(y.neg() != (k < 0));
            }
            return compute(1, y, integer(k), 64);
        }
        if (y.isInf()) {
            return SoftFloat.inf(y.neg() != (compareMagnitude(x, integer(1)) < 0));
        }
        if (y.isZero()) {
            return SoftFloat.zero(y.neg() != (compareMagnitude(x, integer(1)) < 0));
        }
        return rounded(X87Math.yLog2X(x, y));
    }

    /** FYL2XP1: ST1 x log2(ST0 + 1), for small ST0. */
    private SoftFloat.Num logarithmPlusOne(SoftFloat.Num x, SoftFloat.Num y) {
        if (x.isZero()) {
            if (y.isInf()) {
                raised |= IE;
                return SoftFloat.DEFAULT_NAN;
            }
            return SoftFloat.zero(x.neg() != y.neg());
        }
        if (x.isInf() || X87Math.top(x) >= 0) { // outside the documented domain: double precision
            return approximate(toDouble(y) * (StrictMath.log1p(toDouble(x)) / StrictMath.log(2)));
        }
        if (y.isInf()) {
            return SoftFloat.inf(y.neg() != x.neg());
        }
        if (y.isZero()) {
            return SoftFloat.zero(y.neg() != x.neg());
        }
        if (X87Math.top(x) >= 0) { // outside the documented domain (|x| < 1 - sqrt(2)/2): double precision
            return approximate(toDouble(y) * (StrictMath.log1p(toDouble(x)) / StrictMath.log(2)));
        }
        return rounded(X87Math.yLog2XPlusOne(x, y));
    }

    /**
     * F2XM1 (0), FYL2X (1), FPTAN (2), FPATAN (3), FYL2XP1 (9), FSINCOS (11), FSIN (14), FCOS (15):
     * special operands as the SDM specifies, other results computed in double precision.
     */
    private void transcendental(int which) {
        boolean binary = which == 1 || which == 3 || which == 9;
        if (isEmpty(0) || (binary && isEmpty(1))) {
            if (underflow()) {
                setSt(binary ? 1 : 0, SoftFloat.DEFAULT_NAN);
                if (binary) {
                    pop();
                }
            }
            finish();
            return;
        }
        SoftFloat.Num a = st(0);
        c1 = false;
        if (binary) {
            SoftFloat.Num b = st(1);
            SoftFloat.Num r = special(a, b);
            if (r == null) {
                if (a.denormal() || b.denormal()) {
                    raised |= DE;
                }
                r = switch (which) {
                    case 1 -> logarithm(a, b);
                    case 3 -> arctangent(a, b);
                    default -> logarithmPlusOne(a, b);
                };
            }
            if (!blocked()) {
                setSt(1, r);
                pop();
            }
            finish();
            return;
        }
        boolean pushes = which == 2 || which == 11;
        SoftFloat.Num r = special(a);
        if (r == null && a.isInf() && which != 0) {
            raised |= IE;
            r = SoftFloat.DEFAULT_NAN;
        }
        if (r != null) {
            if (!blocked()) {
                setSt(0, r);
                if (pushes) {
                    push(r);
                }
            }
            cpu.fpuStatus &= ~C2;
            finish();
            return;
        }
        if (a.denormal()) {
            raised |= DE;
        }
        double x = toDouble(a);
        if (which != 0 && !a.isZero() && X87Math.top(a) >= 63) {
            setConditions(C2); // out of range: the operand is left as it is
            finish();
            return;
        }
        if (pushes && !isEmptyPhysical((top() - 1) & 7)) {
            raised |= IE | SF;
            c1 = true;
            finish();
            return;
        }
        SoftFloat.Num first;
        SoftFloat.Num second = null;
        if (a.isZero() || a.isInf()) { // exact: 2^x - 1 of 0 and of infinities, sin/tan of 0, cos of 0
            first = which == 15 ? integer(1) : a.isInf() && a.neg() ? integer(-1) : a;
            second = which == 2 || which == 11 ? integer(1) : null;
        } else {
            switch (which) {
                case 0 -> {
                    if (X87Math.top(a) >= 0 && compareMagnitude(a, integer(1)) != 0) {
                        first = approximate(StrictMath.expm1(x * StrictMath.log(2))); // outside [-1, 1]: undefined
                    } else if (X87Math.top(a) >= 0) {
                        first = a.neg() ? SoftFloat.normalized(true, 1, -1) : a; // 2^-1 - 1, 2^1 - 1: exact
                    } else {
                        first = rounded(X87Math.twoToXMinusOne(a));
                    }
                }
                case 2 -> {
                    first = rounded(X87Math.trigonometric(a, 2));
                    second = integer(1);
                }
                case 11 -> {
                    first = rounded(X87Math.trigonometric(a, 0));
                    boolean up = c1;
                    second = rounded(X87Math.trigonometric(a, 1));
                    c1 |= up;
                }
                case 14 -> first = rounded(X87Math.trigonometric(a, 0));
                default -> first = rounded(X87Math.trigonometric(a, 1));
            }
        }
        if (!blocked()) {
            setSt(0, first);
            if (second != null) {
                push(second);
            }
        }
        cpu.fpuStatus &= ~C2;
        finish();
    }

    // ---- FXSAVE / FXRSTOR ----

    /** Writes ST0-ST7 (16 bytes each, 80-bit images) as FXSAVE lays them out. */
    public void saveRegisters(long address) {
        for (int i = 0; i < 8; i++) {
            int p = physical(i);
            mmu.write64(address + 16L * i, significand[p]);
            mmu.write16(address + 16L * i + 8, exponent[p]);
            mmu.write16(address + 16L * i + 10, 0);
            mmu.write32(address + 16L * i + 12, 0);
        }
    }

    /** Reads ST0-ST7 as FXRSTOR does; the status word (TOP) must already be restored. */
    public void restoreRegisters(long address) {
        for (int i = 0; i < 8; i++) {
            int p = physical(i);
            significand[p] = mmu.read64(address + 16L * i);
            exponent[p] = mmu.read16(address + 16L * i + 8);
        }
    }
}
