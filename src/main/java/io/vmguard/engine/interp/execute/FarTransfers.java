package io.vmguard.engine.interp.execute;

import io.vmguard.engine.Segment;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.mmu.Descriptors;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.mmu.Segmentation;

/**
 * The control transfers that load CS, in every mode: far JMP and CALL (direct ptr16:16/32 and through an
 * m16:16/32/64 operand), far RET and IRET, and the far-pointer loads LDS/LES/LSS/LFS/LGS. In real mode
 * a selector is a paragraph number; in protected and long mode it names a GDT descriptor, checked for
 * type, presence and privilege (call gates and task switches are not implemented: #GP).
 */
final class FarTransfers {
    private final CpuState cpu;
    private final Mmu mmu;
    private final Executor executor;

    FarTransfers(CpuState cpu, Mmu mmu, Executor executor) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
    }

    /** FAR_JMP and FAR_CALL: RIP still on the instruction, which is {@code insn.length} long. */
    void jumpOrCall(Instruction insn) {
        long offset;
        int selector;
        if (insn.sub == 0) {
            offset = insn.imm;
            selector = insn.imm2;
        } else {
            long address = executor.address(insn);
            offset = mmu.read(address, insn.opSize);
            selector = mmu.read16(address + insn.opSize);
        }
        Segment code = codeForTransfer(selector);
        long target = checkedTarget(code, offset, insn.opSize);
        if (insn.op == Op.FAR_CALL) {
            int size = insn.opSize;
            long next = cpu.rip + insn.length;
            executor.push(cpu.segments[CpuState.CS].selector(), size);
            executor.push(next, size);
        }
        cpu.loadSegment(CpuState.CS, code);
        cpu.rip = target;
    }

    /** RETF: IP and CS of the operand size, then SP and SS on a return to an outer privilege level. */
    void farReturn(Instruction insn) {
        int size = insn.opSize;
        boolean wide = cpu.codeBits == 64;
        long offset = stack(0, size);
        int selector = (int) stack(size, size) & 0xffff;
        if (cpu.realMode()) {
            cpu.loadSegment(CpuState.CS, CpuState.realModeSegment(selector, 0xb));
            cpu.rip = offset & Flags.mask(size);
            release(wide, 2L * size + insn.imm);
            return;
        }
        int newCpl = selector & 3;
        if (newCpl < cpu.cpl) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        Segment code = codeForReturn(selector);
        long target = checkedTarget(code, offset, size);
        if (newCpl > cpu.cpl) {
            long released = 2L * size + insn.imm;
            long newSp = stack(released, size);
            int ss = (int) stack(released + size, size) & 0xffff;
            Segment stack = Descriptors.stack(cpu, mmu, ss, newCpl);
            cpu.loadSegment(CpuState.CS, code);
            cpu.segments[CpuState.SS] = stack;
            setStackPointer(wide, newSp + insn.imm);
            nullDataSegmentsAbove(newCpl);
        } else {
            cpu.loadSegment(CpuState.CS, code);
            release(wide, 2L * size + insn.imm);
        }
        cpu.rip = target;
    }

    /**
     * IRET of operand size {@code insn.opSize}: real mode pops IP, CS, FLAGS; protected mode also SP and SS
     * on a return to an outer level; long mode (IRETQ, or IRETD from 64-bit code) always pops them, and may
     * return to compatibility mode (32-bit code under a 64-bit kernel).
     */
    void iret(Instruction insn) {
        int size = insn.opSize;
        boolean wide = cpu.codeBits == 64;
        long offset = stack(0, size);
        int selector = (int) stack(size, size) & 0xffff;
        long flags = stack(2L * size, size);
        if (cpu.realMode()) {
            cpu.loadSegment(CpuState.CS, CpuState.realModeSegment(selector, 0xb));
            cpu.rip = offset & Flags.mask(size);
            release(wide, 3L * size);
            setFlags(flags, size);
            return;
        }
        if ((cpu.rflags & Flags.NT) != 0 && !cpu.longMode()) {
            throw GuestFault.gp(); // a task return: task switches are not implemented
        }
        if (size != 2 && (flags & Flags.VM) != 0 && cpu.cpl == 0 && !cpu.longMode()) {
            throw GuestFault.gp(); // return to virtual-8086 mode: not implemented
        }
        int newCpl = selector & 3;
        if (newCpl < cpu.cpl) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        Segment code = codeForReturn(selector);
        long target = checkedTarget(code, offset, size);
        boolean popsStack = wide || newCpl > cpu.cpl;
        Segment stack = null;
        long newSp = 0;
        if (popsStack) {
            newSp = stack(3L * size, size);
            int ss = (int) stack(4L * size, size) & 0xffff;
            stack = cpu.longMode() && (ss & 0xfffc) == 0 && newCpl < 3 && code.l()
                    ? Descriptors.nullSegment(ss, newCpl)
                    : Descriptors.stack(cpu, mmu, ss, newCpl);
        }
        int oldCpl = cpu.cpl;
        long current = cpu.rflags();
        long writable = Flags.WRITABLE | Flags.VIF | Flags.VIP;
        if (oldCpl > 0) {
            writable &= ~(Flags.IOPL | Flags.VIF | Flags.VIP);
        }
        if (oldCpl > ((current & Flags.IOPL) >>> 12)) {
            writable &= ~Flags.IF;
        }
        if (size == 2) {
            writable &= 0xffff;
        }
        cpu.loadSegment(CpuState.CS, code);
        if (popsStack) {
            cpu.segments[CpuState.SS] = stack;
            cpu.gpr[CpuState.RSP] = size == 2 ? (cpu.gpr[CpuState.RSP] & ~0xffffL) | (newSp & 0xffff) : newSp;
        } else {
            release(wide, 3L * size);
        }
        cpu.rip = target;
        cpu.setRflags((current & ~writable) | (flags & writable));
        if (newCpl > oldCpl) {
            nullDataSegmentsAbove(newCpl);
        }
    }

    /** LDS, LES, LSS, LFS, LGS: offset of the operand size into the register, the selector into the segment. */
    void loadFarPointer(Instruction insn, SegmentLoader loader) {
        long address = executor.address(insn);
        long offset = mmu.read(address, insn.opSize);
        int selector = mmu.read16(address + insn.opSize);
        loader.load(insn.sub, selector);
        executor.writeReg(insn.reg, insn.opSize, offset, true);
    }

    /** Loads a data or stack segment register (SystemOps' checks). */
    interface SegmentLoader {
        void load(int index, int selector);
    }

    // ---- helpers ----

    /**
     * The code segment a far JMP/CALL loads: conforming with DPL at most CPL, or non-conforming with
     * DPL equal to CPL and RPL at most CPL; CPL does not change. Gates are not implemented (#GP).
     */
    private Segment codeForTransfer(int selector) {
        if (cpu.realMode()) {
            return CpuState.realModeSegment(selector, 0xb);
        }
        if ((selector & 0xfffc) == 0) {
            throw GuestFault.gp();
        }
        Segment segment = Segment.fromDescriptor(Descriptors.read(cpu, mmu, selector), selector);
        if (!segment.s() || (segment.type() & 8) == 0) {
            throw GuestFault.gp(selector & 0xfffc); // call gates, task gates and TSSs included
        }
        boolean conforming = (segment.type() & 4) != 0;
        if (conforming ? segment.dpl() > cpu.cpl : (segment.dpl() != cpu.cpl || (selector & 3) > cpu.cpl)) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!segment.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        return withCpl(segment, (selector & ~3) | cpu.cpl, cpu.cpl);
    }

    /** The code segment a far RET or IRET returns to, at privilege RPL (not above CPL: checked by the caller). */
    private Segment codeForReturn(int selector) {
        int rpl = selector & 3;
        Segment segment = Descriptors.code(cpu, mmu, selector, rpl);
        boolean conforming = (segment.type() & 4) != 0;
        if (conforming ? segment.dpl() > rpl : segment.dpl() != rpl) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        return withCpl(segment, selector, rpl);
    }

    private static Segment withCpl(Segment s, int selector, int cpl) {
        // CPL is CS's DPL in CpuState: a conforming segment runs at the caller's privilege.
        return new Segment(s.base(), s.limit(), selector, s.type(), s.present(), cpl, s.db(), s.s(), s.l(), s.g(), s.avl(), s.unusable());
    }

    /**
     * The new RIP for a transfer to {@code code}: canonical for 64-bit code, else within the limit
     * (after wrapping at the operand size); #GP(0) otherwise, before anything changed.
     */
    private long checkedTarget(Segment code, long offset, int size) {
        if (cpu.longMode() && code.l()) {
            if (code.db()) {
                throw GuestFault.gp(code.selector() & 0xfffc);
            }
            if (!Executor.canonical(offset)) {
                throw GuestFault.gp();
            }
            return offset;
        }
        long ip = size == 2 ? offset & 0xffff : offset & 0xffff_ffffL;
        if (ip > Integer.toUnsignedLong(code.limit())) {
            throw GuestFault.gp();
        }
        return ip;
    }

    /** ES, DS, FS, GS holding data (or non-conforming code) more privileged than the new CPL are nulled. */
    private void nullDataSegmentsAbove(int newCpl) {
        for (int index : new int[] {CpuState.ES, CpuState.DS, CpuState.FS, CpuState.GS}) {
            Segment s = cpu.segments[index];
            boolean conformingCode = (s.type() & 0xc) == 0xc;
            if (!s.unusable() && s.s() && !conformingCode && s.dpl() < newCpl) {
                cpu.loadSegment(index, Descriptors.nullSegment(0, newCpl));
            }
        }
    }

    /** The stack item {@code displacement} bytes above the stack pointer, in the current mode. */
    private long stack(long displacement, int size) {
        if (cpu.codeBits == 64) {
            long address = cpu.gpr[CpuState.RSP] + displacement;
            return mmu.read(Executor.stackAddress(address, size), size);
        }
        return executor.readStack(displacement, size);
    }

    /** Pops {@code bytes}; {@code wide}: the instruction ran in 64-bit mode (RSP), else SP/ESP by SS. */
    private void release(boolean wide, long bytes) {
        setStackPointer(wide, cpu.gpr[CpuState.RSP] + bytes);
    }

    private void setStackPointer(boolean wide, long value) {
        if (wide) {
            cpu.gpr[CpuState.RSP] = value;
        } else {
            Segmentation.setStackPointer(cpu, value);
        }
    }

    private void setFlags(long flags, int size) {
        long writable = Flags.WRITABLE;
        if (size == 2) {
            writable &= 0xffff;
        }
        long current = cpu.rflags();
        cpu.setRflags((current & ~writable) | (flags & writable));
    }
}
