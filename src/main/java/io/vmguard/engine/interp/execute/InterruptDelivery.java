package io.vmguard.engine.interp.execute;

import io.vmguard.engine.Segment;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.mmu.Descriptors;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.mmu.Segmentation;

/**
 * Delivers exceptions and interrupts: in real mode through the IVT (FLAGS, CS, IP pushed), in protected
 * mode through the 8-byte-gate IDT (stack switch through the 32-bit TSS), in long mode (64-bit code or
 * compatibility mode alike) through the 64-bit IDT: gate checks, a stack switch to RSP0 or an
 * IST stack on a privilege change, the interrupt frame, and IF cleared for interrupt gates. A fault while
 * delivering becomes a double fault; a fault while delivering that is a triple fault (shutdown).
 */
public final class InterruptDelivery {
    /** Raised when the CPU shuts down (triple fault). */
    public static final class TripleFault extends RuntimeException {
        TripleFault(String message) {
            super(message, null, false, false);
        }
    }

    private static final int GATE_INTERRUPT = 0xe;
    private static final int GATE_TRAP = 0xf;

    private final CpuState cpu;
    private final Mmu mmu;

    public InterruptDelivery(CpuState cpu, Mmu mmu) {
        this.cpu = cpu;
        this.mmu = mmu;
    }

    /** Delivers a fault raised by the instruction at RIP (RIP stays on it, so the handler can retry it). */
    public void fault(GuestFault fault) {
        try {
            deliver(fault.vector, fault.hasErrorCode, fault.errorCode, false);
        } catch (GuestFault second) {
            if (fault.vector == GuestFault.DF) {
                throw new TripleFault("triple fault: exception " + second.getMessage() + " while delivering a double fault");
            }
            if (benign(fault.vector) || benign(second.vector)) {
                fault(second);
                return;
            }
            fault(GuestFault.withError(GuestFault.DF, 0));
        }
    }

    /** Page faults and contributory exceptions combine into #DF; others are taken serially. */
    private static boolean benign(int vector) {
        return !(vector == GuestFault.PF || vector == GuestFault.DE || (vector >= GuestFault.TS && vector <= GuestFault.GP));
    }

    /** An external interrupt or software INT: RIP is already at the instruction to return to. */
    public void interrupt(int vector, boolean software) {
        try {
            deliver(vector, false, 0, software);
        } catch (GuestFault fault) {
            fault(fault);
        }
    }

    private void deliver(int vector, boolean hasError, int errorCode, boolean software) {
        if (cpu.realMode()) {
            deliverReal(vector);
            return;
        }
        if (!cpu.longMode()) {
            deliverProtected(vector, hasError, errorCode, software);
            return;
        }
        int gateOffset = vector * 16;
        // Error codes that name an IDT entry hold its index and the IDT bit (SDM 6.13), and EXT for events
        // the program did not raise itself.
        int idtError = (vector << 3) | 2 | (software ? 0 : 1);
        if (gateOffset + 15 > cpu.idt.limit()) {
            throw GuestFault.gp(idtError);
        }
        long low = mmu.readSupervisor(cpu.idt.base() + gateOffset, 8);
        long high = mmu.readSupervisor(cpu.idt.base() + gateOffset + 8, 8);
        int type = (int) (low >>> 40) & 0xf;
        int dpl = (int) (low >>> 45) & 3;
        boolean present = ((low >>> 47) & 1) != 0;
        if (type != GATE_INTERRUPT && type != GATE_TRAP) {
            throw GuestFault.gp(idtError);
        }
        if (software && dpl < cpu.cpl) {
            throw GuestFault.gp(idtError);
        }
        if (!present) {
            throw GuestFault.withError(GuestFault.NP, idtError);
        }
        int selector = (int) (low >>> 16) & 0xffff;
        long target = (low & 0xffff) | ((low >>> 32) & 0xffff_0000L) | (high << 32);
        int ist = (int) (low >>> 32) & 7;

        Segment code = Descriptors.code(cpu, mmu, selector, 0);
        int newCpl = code.dpl();
        if (newCpl > cpu.cpl || !code.l()) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        code = Descriptors.code(cpu, mmu, selector, newCpl);

        long oldRsp = cpu.gpr[CpuState.RSP];
        int oldSs = cpu.segments[CpuState.SS].selector();
        long rsp;
        if (ist != 0) {
            rsp = tssStack(0x24 + (ist - 1) * 8);
        } else if (newCpl < cpu.cpl) {
            rsp = tssStack(4 + newCpl * 8);
        } else {
            rsp = oldRsp;
        }
        rsp &= ~15L;
        long flags = cpu.rflags();
        long[] frame = hasError
                ? new long[] {errorCode, cpu.rip, cpu.segments[CpuState.CS].selector(), flags, oldRsp, oldSs}
                : new long[] {cpu.rip, cpu.segments[CpuState.CS].selector(), flags, oldRsp, oldSs};
        long top = rsp - 8L * frame.length;
        boolean toSupervisor = newCpl < 3;
        for (int i = 0; i < frame.length; i++) {
            // Probe the whole frame before writing any of it: a fault here must leave memory untouched.
            mmu.translate(top + 8L * i, Mmu.WRITE, !toSupervisor);
        }
        for (int i = 0; i < frame.length; i++) {
            mmu.writeSupervisor(top + 8L * i, 8, frame[i]);
        }
        if (newCpl != cpu.cpl) {
            cpu.loadSegment(CpuState.SS, Descriptors.nullSegment(newCpl, newCpl));
        }
        cpu.loadSegment(CpuState.CS, code);
        cpu.gpr[CpuState.RSP] = top;
        cpu.rip = target;
        long cleared = Flags.TF | Flags.NT | Flags.RF | Flags.VM | (type == GATE_INTERRUPT ? Flags.IF : 0);
        cpu.setRflags(flags & ~cleared);
        cpu.halted = false;
    }

    /** Real mode: the IVT's 4-byte IP:CS at vector * 4; FLAGS, CS and IP pushed as 16-bit words. */
    private void deliverReal(int vector) {
        int entry = vector * 4;
        if (entry + 3 > cpu.idt.limit()) {
            throw GuestFault.gp(vector * 8 + 2);
        }
        long pointer = mmu.readSupervisor((cpu.idt.base() + entry) & 0xffff_ffffL, 4);
        long flags = cpu.rflags();
        long[] frame = {cpu.rip & 0xffff, cpu.segments[CpuState.CS].selector(), flags & 0xffff};
        long sp = pushFrame(frame, 2, false);
        cpu.loadSegment(CpuState.CS, CpuState.realModeSegment((int) (pointer >>> 16) & 0xffff, 0xb));
        Segmentation.setStackPointer(cpu, sp);
        cpu.rip = pointer & 0xffff;
        cpu.setRflags(flags & ~(Flags.IF | Flags.TF | Flags.AC | Flags.RF));
        cpu.halted = false;
    }

    /**
     * Protected mode (outside long mode): an 8-byte interrupt or trap gate, 16- or 32-bit; on a change to a
     * more privileged level the stack comes from the TSS (SS:ESP for the new CPL) and the old SS:ESP is
     * pushed first. Task gates are not implemented (#GP).
     */
    private void deliverProtected(int vector, boolean hasError, int errorCode, boolean software) {
        int gateOffset = vector * 8;
        int idtError = (vector << 3) | 2 | (software ? 0 : 1);
        if (gateOffset + 7 > cpu.idt.limit()) {
            throw GuestFault.gp(idtError);
        }
        long gate = mmu.readSupervisor(cpu.idt.base() + gateOffset, 8);
        int type = (int) (gate >>> 40) & 0xf;
        int dpl = (int) (gate >>> 45) & 3;
        boolean present = ((gate >>> 47) & 1) != 0;
        boolean interruptGate = type == 0x6 || type == GATE_INTERRUPT;
        if (!interruptGate && type != 0x7 && type != GATE_TRAP) {
            throw GuestFault.gp(idtError); // task gates included
        }
        if (software && dpl < cpu.cpl) {
            throw GuestFault.gp(idtError);
        }
        if (!present) {
            throw GuestFault.withError(GuestFault.NP, idtError);
        }
        int size = type >= 0x8 ? 4 : 2;
        int selector = (int) (gate >>> 16) & 0xffff;
        long target = (gate & 0xffff) | (size == 4 ? (gate >>> 32) & 0xffff_0000L : 0);
        Segment code = Descriptors.code(cpu, mmu, selector, 0);
        boolean conforming = (code.type() & 4) != 0;
        int newCpl = conforming ? cpu.cpl : code.dpl();
        if (code.dpl() > cpu.cpl) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (target > Integer.toUnsignedLong(code.limit())) {
            throw GuestFault.gp();
        }
        code = Descriptors.code(cpu, mmu, selector, newCpl);
        long flags = cpu.rflags();
        long oldSp = cpu.gpr[CpuState.RSP];
        int oldSs = cpu.segments[CpuState.SS].selector();
        Segment oldStack = cpu.segments[CpuState.SS];
        long[] frame;
        if (newCpl < cpu.cpl) {
            boolean tss32 = (cpu.tr.type() & 8) != 0;
            int slot = tss32 ? 4 + newCpl * 8 : 2 + newCpl * 4;
            int width = tss32 ? 4 : 2;
            if (cpu.tr.unusable() || slot + 2 * width - 1 > cpu.tr.limit()) {
                throw GuestFault.withError(GuestFault.TS, cpu.tr.selector() & 0xfffc);
            }
            long newSp = mmu.readSupervisor(cpu.tr.base() + slot, width);
            int newSs = (int) mmu.readSupervisor(cpu.tr.base() + slot + width, 2);
            Segment stack;
            try {
                stack = Descriptors.stack(cpu, mmu, newSs, newCpl);
            } catch (GuestFault fault) {
                throw GuestFault.withError(GuestFault.TS, newSs & 0xfffc);
            }
            cpu.segments[CpuState.SS] = stack;
            cpu.gpr[CpuState.RSP] = newSp;
            frame = new long[] {cpu.rip, cpu.segments[CpuState.CS].selector(), flags, oldSp, oldSs, 0};
        } else {
            frame = new long[] {cpu.rip, cpu.segments[CpuState.CS].selector(), flags, 0};
        }
        // The frame from the lowest address up: error code (if any), EIP, CS, EFLAGS, then ESP, SS.
        int items = frame.length - 1;
        long[] ordered = new long[items + (hasError ? 1 : 0)];
        int at = 0;
        if (hasError) {
            ordered[at++] = errorCode;
        }
        System.arraycopy(frame, 0, ordered, at, items);
        long sp;
        try {
            sp = pushFrame(ordered, size, newCpl == 3);
        } catch (GuestFault fault) {
            cpu.segments[CpuState.SS] = oldStack;
            cpu.gpr[CpuState.RSP] = oldSp;
            throw fault;
        }
        cpu.loadSegment(CpuState.CS, code);
        Segmentation.setStackPointer(cpu, sp);
        cpu.rip = target;
        long cleared = Flags.TF | Flags.NT | Flags.RF | Flags.VM | (interruptGate ? Flags.IF : 0);
        cpu.setRflags(flags & ~cleared);
        cpu.halted = false;
    }

    /**
     * Writes {@code frame} (lowest address first) below SS:SP in {@code size}-byte items, every page probed
     * before anything is written; returns the new stack pointer.
     */
    private long pushFrame(long[] frame, int size, boolean user) {
        long mask = Segmentation.stackMask(cpu);
        long sp = (cpu.gpr[CpuState.RSP] - (long) size * frame.length) & mask;
        long[] linear = new long[frame.length];
        for (int i = 0; i < frame.length; i++) {
            linear[i] = Segmentation.linear(cpu, CpuState.SS, (sp + (long) size * i) & mask, size);
            mmu.translate(linear[i], Mmu.WRITE, user);
        }
        for (int i = 0; i < frame.length; i++) {
            mmu.writeSupervisor(linear[i], size, frame[i]);
        }
        return sp;
    }

    private long tssStack(int offset) {
        if (cpu.tr.unusable() || offset + 7 > cpu.tr.limit()) {
            throw GuestFault.withError(GuestFault.TS, cpu.tr.selector() & 0xfffc);
        }
        return mmu.readSupervisor(cpu.tr.base() + offset, 8);
    }
}
