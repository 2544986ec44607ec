package io.vmguard.engine.interp;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Segment;

/**
 * The architectural state of one interpreted x86-64 CPU. Fields are package-private and mutable on
 * purpose: the executor touches them on every instruction and must not pay for accessors or copies.
 *
 * <p>All of it is in a snapshot: a field added here belongs in {@link #copyFrom} and in
 * {@link CpuStateSnapshot} too.
 */
final class CpuState {
    static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R11 = 11;
    static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    final long[] gpr = new long[16];
    long rip;

    /** Non-arithmetic flags always; arithmetic ones too when {@link #ccOp} is {@link Flags#EAGER}. */
    long rflags = Flags.RESERVED_ONE;
    int ccOp = Flags.EAGER;
    int ccSize = 8;
    long ccResult;
    long ccSrc;
    long ccCarryIn;

    /** Segment registers in encoding order (ES, CS, SS, DS, FS, GS); 64-bit code uses FS/GS bases only. */
    final Segment[] segments = new Segment[6];
    Segment tr = Segment.unusableLdt();
    Segment ldt = Segment.unusableLdt();
    DescriptorTable gdt = new DescriptorTable(0, 0xffff);
    DescriptorTable idt = new DescriptorTable(0, 0xffff);
    long fsBase;
    long gsBase;
    long kernelGsBase;
    int cpl;

    long cr0 = 0x6000_0010L;
    long cr2;
    long cr3;
    long cr4;
    long efer;
    // CR8 (the task priority) and IA32_APIC_BASE live in the platform's local APIC, not here.
    final long[] debug = new long[8];

    long star, lstar, cstar, sfmask;
    long sysenterCs, sysenterEsp, sysenterEip;
    long tscAux;
    long pat = 0x0007_0406_0007_0406L;
    long miscEnable;

    /** XMM0-15 as (low, high) pairs: xmm[2n] is the low quadword of XMMn. */
    final long[] xmm = new long[32];
    int mxcsr = 0x1f80;
    /** x87 control word and the rest of the FPU state that userland touches (FNSTCW/FLDCW/FNINIT). */
    int fpuControl = 0x037f;
    int fpuStatus;
    int fpuTag = 0xffff;
    /** ST registers by physical index (TOP is in the status word): 64-bit significand, 16-bit sign/exponent. */
    final long[] x87Significand = new long[8];
    final int[] x87Exponent = new int[8];

    /**
     * Interrupts are inhibited for one instruction after STI (that set IF) and MOV SS: set by those, checked
     * before the next instruction, cleared as that instruction starts.
     */
    boolean interruptShadow;
    boolean halted;

    CpuState() {
        Segment flat = new Segment(0, 0xffff, 0, 0x3, true, 0, false, true, false, false, false, false);
        for (int i = 0; i < segments.length; i++) {
            segments[i] = flat;
        }
        segments[CS] = new Segment(0xffff0000L, 0xffff, 0xf000, 0xb, true, 0, false, true, false, false, false, false);
    }

    /** Makes this CPU's state a copy of {@code other}'s (segments and tables are immutable records). */
    void copyFrom(CpuState other) {
        System.arraycopy(other.gpr, 0, gpr, 0, gpr.length);
        rip = other.rip;
        rflags = other.rflags;
        ccOp = other.ccOp;
        ccSize = other.ccSize;
        ccResult = other.ccResult;
        ccSrc = other.ccSrc;
        ccCarryIn = other.ccCarryIn;
        System.arraycopy(other.segments, 0, segments, 0, segments.length);
        tr = other.tr;
        ldt = other.ldt;
        gdt = other.gdt;
        idt = other.idt;
        fsBase = other.fsBase;
        gsBase = other.gsBase;
        kernelGsBase = other.kernelGsBase;
        cpl = other.cpl;
        cr0 = other.cr0;
        cr2 = other.cr2;
        cr3 = other.cr3;
        cr4 = other.cr4;
        efer = other.efer;
        System.arraycopy(other.debug, 0, debug, 0, debug.length);
        star = other.star;
        lstar = other.lstar;
        cstar = other.cstar;
        sfmask = other.sfmask;
        sysenterCs = other.sysenterCs;
        sysenterEsp = other.sysenterEsp;
        sysenterEip = other.sysenterEip;
        tscAux = other.tscAux;
        pat = other.pat;
        miscEnable = other.miscEnable;
        System.arraycopy(other.xmm, 0, xmm, 0, xmm.length);
        mxcsr = other.mxcsr;
        fpuControl = other.fpuControl;
        fpuStatus = other.fpuStatus;
        fpuTag = other.fpuTag;
        System.arraycopy(other.x87Significand, 0, x87Significand, 0, x87Significand.length);
        System.arraycopy(other.x87Exponent, 0, x87Exponent, 0, x87Exponent.length);
        interruptShadow = other.interruptShadow;
        halted = other.halted;
    }

    /**
     * The state after INIT (SDM Vol. 3 Table 10-1, "following power-up, reset, or INIT"): real mode at
     * F000:FFF0 with CS based at FFFF0000, paging and protection off, EFER clear, general registers zero (EDX's
     * family/model signature aside, which no guest of ours reads), x87/SSE and the MSRs INIT keeps left as they are.
     */
    void resetForInit() {
        java.util.Arrays.fill(gpr, 0);
        rip = 0xfff0;
        setRflags(Flags.RESERVED_ONE);
        Segment data = new Segment(0, 0xffff, 0, 0x3, true, 0, false, true, false, false, false, false);
        for (int i = 0; i < segments.length; i++) {
            segments[i] = data;
        }
        segments[CS] = new Segment(0xffff0000L, 0xffff, 0xf000, 0xb, true, 0, false, true, false, false, false, false);
        fsBase = 0;
        gsBase = 0;
        cpl = 0;
        tr = Segment.unusableLdt();
        ldt = Segment.unusableLdt();
        gdt = new DescriptorTable(0, 0xffff);
        idt = new DescriptorTable(0, 0xffff);
        cr0 = 0x6000_0010L;
        cr2 = 0;
        cr3 = 0;
        cr4 = 0;
        efer = 0;
        java.util.Arrays.fill(debug, 0);
        debug[6] = 0xffff_0ff0L;
        debug[7] = 0x400;
        interruptShadow = false;
        halted = false;
    }

    /** A start-up IPI's entry: real mode at {@code vector} * 4 KiB (CS = vector << 8, IP = 0). */
    void startupAt(int vector) {
        segments[CS] = new Segment((long) vector << 12, 0xffff, vector << 8, 0xb, true, 0, false, true, false, false,
                false, false);
        rip = 0;
        halted = false;
    }

    long rflags() {
        return (rflags & ~Flags.ARITHMETIC) | Flags.arithmetic(this) | Flags.RESERVED_ONE;
    }

    void setRflags(long value) {
        rflags = (value & ~0xffff_ffff_ffc0_802aL) | Flags.RESERVED_ONE;
        ccOp = Flags.EAGER;
    }

    boolean longMode() {
        return (efer & io.vmguard.engine.SpecialRegisters.EFER_LMA) != 0;
    }

    boolean paging() {
        return (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PG) != 0;
    }

    /** 64-bit code segment active (long mode and CS.L). */
    boolean mode64() {
        return longMode() && segments[CS].l();
    }

    void loadSegment(int index, Segment segment) {
        segments[index] = segment;
        if (index == FS) {
            fsBase = segment.base();
        } else if (index == GS) {
            gsBase = segment.base();
        } else if (index == CS) {
            cpl = segment.dpl();
        }
    }

    Segment segment(int index) {
        Segment s = segments[index];
        long base = index == FS ? fsBase : index == GS ? gsBase : s.base();
        return base == s.base() ? s
                : new Segment(base, s.limit(), s.selector(), s.type(), s.present(), s.dpl(), s.db(), s.s(), s.l(), s.g(), s.avl(), s.unusable());
    }
}
