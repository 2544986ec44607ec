package io.vmguard.engine.interp;

import io.vmguard.engine.Segment;

/**
 * Delivers exceptions and interrupts through the 64-bit IDT: gate checks, a stack switch to RSP0 or an
 * IST stack on a privilege change, the interrupt frame, and IF cleared for interrupt gates. A fault while
 * delivering becomes a double fault; a fault while delivering that is a triple fault (shutdown).
 */
final class InterruptDelivery {
    /** Raised when the CPU shuts down (triple fault). */
    static final class TripleFault extends RuntimeException {
        TripleFault(String message) {
            super(message, null, false, false);
        }
    }

    private static final int GATE_INTERRUPT = 0xe;
    private static final int GATE_TRAP = 0xf;

    private final CpuState cpu;
    private final Mmu mmu;

    InterruptDelivery(CpuState cpu, Mmu mmu) {
        this.cpu = cpu;
        this.mmu = mmu;
    }

    /** Delivers a fault raised by the instruction at RIP (RIP stays on it, so the handler can retry it). */
    void fault(GuestFault fault) {
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
    void interrupt(int vector, boolean software) {
        try {
            deliver(vector, false, 0, software);
        } catch (GuestFault fault) {
            fault(fault);
        }
    }

    private void deliver(int vector, boolean hasError, int errorCode, boolean software) {
        if (!cpu.longMode()) {
            throw new TripleFault("interrupt " + vector + " outside long mode (the interpreter runs 64-bit mode only)");
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

    private long tssStack(int offset) {
        if (cpu.tr.unusable() || offset + 7 > cpu.tr.limit()) {
            throw GuestFault.withError(GuestFault.TS, cpu.tr.selector() & 0xfffc);
        }
        return mmu.readSupervisor(cpu.tr.base() + offset, 8);
    }
}
