package io.vmguard.engine.interp.cpu;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Segment;

/**
 * The architectural state of one interpreted x86 CPU, in any of its modes (real, 16/32-bit protected,
 * compatibility, 64-bit). Fields are package-private and mutable on
 * purpose: the executor touches them on every instruction and must not pay for accessors or copies.
 *
 * <p>All of it is in a snapshot: a field added here belongs in {@link #copyFrom} and in
 * {@code CpuStateSnapshot} too.
 */
public final class CpuState {
    public static final int RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7, R11 = 11;
    public static final int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    public final long[] gpr = new long[16];
    public long rip;

    /** Non-arithmetic flags always; arithmetic ones too when {@link #ccOp} is {@link Flags#EAGER}. */
    public long rflags = Flags.RESERVED_ONE;
    public int ccOp = Flags.EAGER;
    public int ccSize = 8;
    public long ccResult;
    public long ccSrc;
    public long ccCarryIn;

    /** Segment registers in encoding order (ES, CS, SS, DS, FS, GS); 64-bit code uses FS/GS bases only. */
    public final Segment[] segments = new Segment[6];
    public Segment tr = Segment.unusableLdt();
    public Segment ldt = Segment.unusableLdt();
    public DescriptorTable gdt = new DescriptorTable(0, 0xffff);
    public DescriptorTable idt = new DescriptorTable(0, 0xffff);
    public long fsBase;
    public long gsBase;
    public long kernelGsBase;
    public int cpl;

    public long cr0 = 0x6000_0010L;
    /**
     * The default operand and address size of the code running now: 16 (real mode, or a 16-bit code
     * segment), 32 or 64. Derived from CR0.PE, EFER.LMA and CS ({@link #updateMode}); kept in a field
     * because every decoded block and every memory access asks for it.
     */
    public int codeBits = 16;
    /** PAE paging outside long mode: the four page-directory-pointer entries, loaded when CR3 is. */
    public final long[] pdpte = new long[4];
    public long cr2;
    public long cr3;
    public long cr4;
    public long efer;
    // CR8 (the task priority) and IA32_APIC_BASE live in the platform's local APIC, not here.
    public final long[] debug = new long[8];

    public long star, lstar, cstar, sfmask;
    public long sysenterCs, sysenterEsp, sysenterEip;
    public long tscAux;
    public long pat = 0x0007_0406_0007_0406L;
    public long miscEnable;

    /** XMM0-15 as (low, high) pairs: xmm[2n] is the low quadword of XMMn. */
    public final long[] xmm = new long[32];
    public int mxcsr = 0x1f80;
    /** x87 control word and the rest of the FPU state that userland touches (FNSTCW/FLDCW/FNINIT). */
    public int fpuControl = 0x037f;
    public int fpuStatus;
    public int fpuTag = 0xffff;
    /** ST registers by physical index (TOP is in the status word): 64-bit significand, 16-bit sign/exponent. */
    public final long[] x87Significand = new long[8];
    public final int[] x87Exponent = new int[8];

    /**
     * Interrupts are inhibited for one instruction after STI (that set IF) and MOV SS: set by those, checked
     * before the next instruction, cleared as that instruction starts.
     */
    public boolean interruptShadow;
    public boolean halted;

    public CpuState() {
        Segment flat = new Segment(0, 0xffff, 0, 0x3, true, 0, false, true, false, false, false, false);
        for (int i = 0; i < segments.length; i++) {
            segments[i] = flat;
        }
        segments[CS] = new Segment(0xffff0000L, 0xffff, 0xf000, 0xb, true, 0, false, true, false, false, false, false);
    }

    /**
     * The state INIT leaves (SDM Vol. 3 Table 10-1): real mode at F000:FFF0 with CS base FFFF0000, CR0
     * 60000010, EFER 0, flags 2, EDX the processor signature, everything else zero. Like INIT (unlike
     * RESET) it keeps the x87/SSE registers, MTRRs and the SYSENTER/SYSCALL MSRs (the APIC is the
     * platform's).
     */
    public void resetForInit() {
        java.util.Arrays.fill(gpr, 0);
        gpr[RDX] = Cpuid.SIGNATURE;
        rip = 0xfff0;
        setRflags(Flags.RESERVED_ONE);
        Segment data = realModeSegment(0, 0x3);
        for (int i = 0; i < segments.length; i++) {
            segments[i] = data;
        }
        segments[CS] = new Segment(0xffff0000L, 0xffff, 0xf000, 0xb, true, 0, false, true, false, false, false, false);
        fsBase = 0;
        gsBase = 0;
        kernelGsBase = 0;
        tr = new Segment(0, 0xffff, 0, 0xb, true, 0, false, false, false, false, false, false);
        ldt = new Segment(0, 0xffff, 0, 0x2, true, 0, false, false, false, false, false, false);
        gdt = new DescriptorTable(0, 0xffff);
        idt = new DescriptorTable(0, 0xffff);
        cpl = 0;
        cr0 = 0x6000_0010L | (cr0 & 0x6000_0000L); // INIT keeps CD and NW
        cr2 = 0;
        cr3 = 0;
        cr4 = 0;
        efer = 0;
        java.util.Arrays.fill(pdpte, 0);
        java.util.Arrays.fill(debug, 0);
        debug[6] = 0xffff_0ff0L;
        debug[7] = 0x400;
        interruptShadow = false;
        halted = false;
        updateMode();
    }

    /**
     * A startup IPI with {@code vector}: real mode at vector:0000, CS selector vector << 8 and base
     * vector << 12 (the 4 KiB page the trampoline is in). It follows INIT, whose state the rest keeps.
     */
    public void startupAt(int vector) {
        int selector = (vector & 0xff) << 8;
        segments[CS] = realModeSegment(selector, 0xb);
        rip = 0;
        halted = false;
        updateMode();
    }

    /** A real-mode segment register as a load of {@code selector} leaves it: base selector * 16, limit 64 KiB. */
    public static Segment realModeSegment(int selector, int type) {
        return new Segment((long) (selector & 0xffff) << 4, 0xffff, selector & 0xffff, type, true, 0, false, true, false,
                false, false, false);
    }

    /** Works out {@link #codeBits} again after CR0.PE, EFER.LMA or CS changed. */
    public void updateMode() {
        Segment code = segments[CS];
        codeBits = (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PE) == 0 ? 16
                : longMode() && code.l() ? 64
                : code.db() ? 32 : 16;
    }

    /**
     * Why a combination of control registers and CS is not a processor state (null when it is one): PG
     * without PE, LMA without PG and PAE, LMA that LME did not ask for, a 64-bit CS outside long mode or
     * with D set.
     */
    public static String invalidMode(long cr0, long cr4, long efer, Segment cs) {
        boolean pe = (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PE) != 0;
        boolean pg = (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PG) != 0;
        boolean lma = (efer & io.vmguard.engine.SpecialRegisters.EFER_LMA) != 0;
        boolean lme = (efer & io.vmguard.engine.SpecialRegisters.EFER_LME) != 0;
        boolean pae = (cr4 & io.vmguard.engine.SpecialRegisters.CR4_PAE) != 0;
        if (pg && !pe) {
            return "CR0.PG without CR0.PE";
        }
        if (lma && !(pg && pae && lme)) {
            return "EFER.LMA without CR0.PG, CR4.PAE and EFER.LME";
        }
        if (!lma && pg && lme) {
            return "CR0.PG and EFER.LME without EFER.LMA";
        }
        if (cs.l() && lma && cs.db()) {
            return "a 64-bit code segment (CS.L) with CS.D set";
        }
        return null;
    }

    /** Real mode: CR0.PE clear (segments are selector * 16, no privilege checks, interrupts through the IVT). */
    public boolean realMode() {
        return (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PE) == 0;
    }

    /** The linear address of code at {@code ip}: in 64-bit mode the same, else CS base + EIP, 32 bits. */
    public long codeLinear(long ip) {
        return codeBits == 64 ? ip : (segments[CS].base() + ip) & 0xffff_ffffL;
    }

    /** Makes this CPU's state a copy of {@code other}'s (segments and tables are immutable records). */
    public void copyFrom(CpuState other) {
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
        codeBits = other.codeBits;
        System.arraycopy(other.pdpte, 0, pdpte, 0, pdpte.length);
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

    public long rflags() {
        return (rflags & ~Flags.ARITHMETIC) | Flags.arithmetic(this) | Flags.RESERVED_ONE;
    }

    public void setRflags(long value) {
        rflags = (value & ~0xffff_ffff_ffc0_802aL) | Flags.RESERVED_ONE;
        ccOp = Flags.EAGER;
    }

    public boolean longMode() {
        return (efer & io.vmguard.engine.SpecialRegisters.EFER_LMA) != 0;
    }

    public boolean paging() {
        return (cr0 & io.vmguard.engine.SpecialRegisters.CR0_PG) != 0;
    }

    /** 64-bit code segment active (long mode and CS.L). */
    boolean mode64() {
        return longMode() && segments[CS].l();
    }

    public void loadSegment(int index, Segment segment) {
        segments[index] = segment;
        if (index == FS) {
            fsBase = segment.base();
        } else if (index == GS) {
            gsBase = segment.base();
        } else if (index == CS) {
            cpl = realMode() ? 0 : segment.dpl();
            updateMode();
        }
    }

    public Segment segment(int index) {
        Segment s = segments[index];
        long base = index == FS ? fsBase : index == GS ? gsBase : s.base();
        return base == s.base() ? s
                : new Segment(base, s.limit(), s.selector(), s.type(), s.present(), s.dpl(), s.db(), s.s(), s.l(), s.g(), s.avl(), s.unusable());
    }
}
