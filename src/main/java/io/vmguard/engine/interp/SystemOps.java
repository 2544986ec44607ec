package io.vmguard.engine.interp;

import static io.vmguard.engine.interp.CpuState.RAX;
import static io.vmguard.engine.interp.CpuState.RCX;
import static io.vmguard.engine.interp.CpuState.RDX;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.monitor.MonitorEvent;

/**
 * Privileged and system instructions: control and debug registers, MSRs, descriptor tables, SYSCALL,
 * SYSRET, IRETQ, SWAPGS, CPUID, the TSC, CLI/STI and HLT.
 */
final class SystemOps {
    static final int MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_MTRRCAP = 0xfe;
    /** IA32_BIOS_SIGN_ID: the loaded microcode revision, which Intel CPUs report and Linux reads at boot. */
    static final int MSR_BIOS_SIGN_ID = 0x8b;
    static final int MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;
    static final int MSR_MISC_ENABLE = 0x1a0, MSR_PAT = 0x277, MSR_MTRR_DEF_TYPE = 0x2ff;
    static final int MSR_EFER = 0xc000_0080, MSR_STAR = 0xc000_0081, MSR_LSTAR = 0xc000_0082;
    static final int MSR_CSTAR = 0xc000_0083, MSR_SFMASK = 0xc000_0084;
    static final int MSR_FS_BASE = 0xc000_0100, MSR_GS_BASE = 0xc000_0101, MSR_KERNEL_GS_BASE = 0xc000_0102;
    static final int MSR_TSC_AUX = 0xc000_0103;

    static final long EFER_WRITABLE = SpecialRegisters.EFER_SCE | SpecialRegisters.EFER_LME | SpecialRegisters.EFER_NXE;

    private final CpuState cpu;
    private final Mmu mmu;
    private final Executor executor;
    private final Devices devices;
    private final int apicId;
    private final int[] cpuid = new int[4];
    private final MonitorHooks monitor;

    /**
     * The hardware around the CPU that system instructions reach: the TSC (in ticks of
     * {@link Cpuid#TSC_HZ}), the local APIC's task priority (CR8), and the MSRs of the interrupt and timer
     * devices (IA32_APIC_BASE, IA32_TSC_DEADLINE, kvmclock).
     */
    interface Devices {
        long tsc();

        void setTsc(long value);

        /** CR8: TPR bits 7:4. */
        int taskPriorityClass();

        void setTaskPriorityClass(int value);

        boolean claimsMsr(int index);

        long readMsr(int index);

        /** False when the value is invalid: the guest takes #GP. */
        boolean writeMsr(int index, long value);
    }

    SystemOps(CpuState cpu, Mmu mmu, Executor executor, Devices devices, int apicId, MonitorHooks monitor) {
        this.monitor = monitor;
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
        this.devices = devices;
        this.apicId = apicId;
    }

    private void requireRing0() {
        if (cpu.cpl != 0) {
            throw GuestFault.gp();
        }
    }

    /** Executes {@code insn} and moves RIP on (or to where the instruction transfers control). */
    void execute(Instruction insn) {
        long next = cpu.rip + insn.length;
        switch (insn.op) {
            case Op.HLT -> {
                requireRing0();
                cpu.rip = next;
                cpu.halted = true;
                return;
            }
            case Op.CLI -> {
                requireIopl();
                cpu.rflags &= ~Flags.IF;
            }
            case Op.STI -> {
                requireIopl();
                if ((cpu.rflags & Flags.IF) == 0) {
                    cpu.interruptShadow = true;
                }
                cpu.rflags |= Flags.IF;
            }
            case Op.CPUID -> {
                Cpuid.query((int) cpu.gpr[RAX], (int) cpu.gpr[RCX], apicId, cpuid);
                cpu.gpr[RAX] = cpuid[0] & 0xffff_ffffL;
                cpu.gpr[CpuState.RBX] = cpuid[1] & 0xffff_ffffL;
                cpu.gpr[RCX] = cpuid[2] & 0xffff_ffffL;
                cpu.gpr[RDX] = cpuid[3] & 0xffff_ffffL;
            }
            case Op.RDTSC, Op.RDTSCP -> {
                if (cpu.cpl != 0 && (cpu.cr4 & CR4_TSD) != 0) {
                    throw GuestFault.gp();
                }
                long tsc = devices.tsc();
                cpu.gpr[RAX] = tsc & 0xffff_ffffL;
                cpu.gpr[RDX] = tsc >>> 32;
                if (insn.op == Op.RDTSCP) {
                    cpu.gpr[RCX] = cpu.tscAux & 0xffff_ffffL;
                }
            }
            case Op.RDMSR -> {
                requireRing0();
                long value = readMsr((int) cpu.gpr[RCX]);
                cpu.gpr[RAX] = value & 0xffff_ffffL;
                cpu.gpr[RDX] = value >>> 32;
            }
            case Op.WRMSR -> {
                requireRing0();
                int index = (int) cpu.gpr[RCX];
                long value = (cpu.gpr[RDX] << 32) | (cpu.gpr[RAX] & 0xffff_ffffL);
                long old = architecturalMsr(index);
                writeMsr(index, value);
                monitor.msrWritten(cpu.rip, index, old, architecturalMsr(index));
            }
            case Op.MOV_FROM_CR -> {
                requireRing0();
                cpu.gpr[insn.rm] = readCr(insn.reg);
            }
            case Op.MOV_TO_CR -> {
                requireRing0();
                long old = insn.reg == 8 ? 0 : readCr(insn.reg);
                writeCr(insn.reg, cpu.gpr[insn.rm]);
                monitor.controlRegisterWritten(cpu.rip, insn.reg, old, readCr(insn.reg));
            }
            case Op.MOV_FROM_DR -> {
                requireRing0();
                cpu.gpr[insn.rm] = debugRegister(insn.reg);
            }
            case Op.MOV_TO_DR -> {
                requireRing0();
                debugRegister(insn.reg);
                cpu.debug[insn.reg] = cpu.gpr[insn.rm];
            }
            case Op.CLTS -> {
                requireRing0();
                cpu.cr0 &= ~SpecialRegisters.CR0_TS;
            }
            case Op.WBINVD -> requireRing0();
            case Op.INVLPG -> {
                requireRing0();
                mmu.flushPage(executor.address(insn));
            }
            case Op.SWAPGS -> {
                requireRing0();
                long gs = cpu.gsBase;
                cpu.gsBase = cpu.kernelGsBase;
                cpu.kernelGsBase = gs;
            }
            case Op.GROUP7 -> descriptorTable(insn);
            case Op.GROUP6 -> taskAndLdt(insn);
            case Op.SYSCALL -> {
                monitor.systemCall(cpu.rip);
                syscall(next);
                return;
            }
            case Op.SYSRET -> { sysret(insn); return; }
            case Op.IRET -> { iret(); return; }
            case Op.RETF -> { farReturn(insn); return; }
            case Op.MOV_FROM_SEG -> {
                if (insn.reg > CpuState.GS) {
                    throw GuestFault.ud();
                }
                executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.segments[insn.reg].selector());
            }
            case Op.MOV_TO_SEG -> {
                if (insn.reg == CpuState.CS || insn.reg > CpuState.GS) {
                    throw GuestFault.ud();
                }
                loadDataSegment(insn.reg, (int) executor.readRm(insn, 2));
            }
            case Op.POP_SEG -> {
                int selector = (int) executor.pop(insn.opSize);
                loadDataSegment(insn.reg, selector);
            }
            default -> throw GuestFault.ud();
        }
        cpu.rip = next;
    }

    private static final long CR4_TSD = 1L << 2;
    private static final long CR4_PGE = 1L << 7;
    static final long CR4_SUPPORTED = CR4_TSD | (1L << 3) | SpecialRegisters.CR4_PAE | CR4_PGE
            | SpecialRegisters.CR4_OSFXSR | SpecialRegisters.CR4_OSXMMEXCPT | (1L << 4) | (1L << 8);

    private void requireIopl() {
        if (cpu.cpl > ((cpu.rflags & Flags.IOPL) >>> 12)) {
            throw GuestFault.gp();
        }
    }

    private long debugRegister(int index) {
        if (index == 4 || index == 5) {
            index += 2; // aliases of DR6/DR7 while CR4.DE is clear
        }
        if (index > 7) {
            throw GuestFault.ud();
        }
        return cpu.debug[index];
    }

    private long readCr(int index) {
        return switch (index) {
            case 0 -> cpu.cr0;
            case 2 -> cpu.cr2;
            case 3 -> cpu.cr3;
            case 4 -> cpu.cr4;
            case 8 -> devices.taskPriorityClass();
            default -> throw GuestFault.ud();
        };
    }

    private void writeCr(int index, long value) {
        switch (index) {
            case 0 -> {
                if ((value >>> 32) != 0 || ((value & SpecialRegisters.CR0_PG) != 0 && (value & SpecialRegisters.CR0_PE) == 0)) {
                    throw GuestFault.gp();
                }
                if (cpu.longMode() && (value & SpecialRegisters.CR0_PG) == 0) {
                    throw new InterruptDelivery.TripleFault("guest left long mode (the interpreter runs 64-bit mode only)");
                }
                cpu.cr0 = value | SpecialRegisters.CR0_ET;
                mmu.flush();
            }
            case 2 -> cpu.cr2 = value;
            case 3 -> {
                if ((value & 0xfff0_0000_0000_0000L) != 0) {
                    throw GuestFault.gp();
                }
                cpu.cr3 = value;
                mmu.flush();
            }
            case 4 -> {
                if ((value & ~CR4_SUPPORTED) != 0 || (cpu.longMode() && (value & SpecialRegisters.CR4_PAE) == 0)) {
                    throw GuestFault.gp();
                }
                cpu.cr4 = value;
                mmu.flush();
            }
            case 8 -> {
                if ((value & ~0xfL) != 0) {
                    throw GuestFault.gp();
                }
                devices.setTaskPriorityClass((int) value);
            }
            default -> throw GuestFault.ud();
        }
    }

    long readMsr(int index) {
        return switch (index) {
            case MSR_TSC -> devices.tsc();
            case MSR_MTRRCAP, MSR_MTRR_DEF_TYPE, MSR_BIOS_SIGN_ID -> 0;
            case MSR_SYSENTER_CS -> cpu.sysenterCs;
            case MSR_SYSENTER_ESP -> cpu.sysenterEsp;
            case MSR_SYSENTER_EIP -> cpu.sysenterEip;
            case MSR_MISC_ENABLE -> cpu.miscEnable;
            case MSR_PAT -> cpu.pat;
            case MSR_EFER -> cpu.efer;
            case MSR_STAR -> cpu.star;
            case MSR_LSTAR -> cpu.lstar;
            case MSR_CSTAR -> cpu.cstar;
            case MSR_SFMASK -> cpu.sfmask;
            case MSR_FS_BASE -> cpu.fsBase;
            case MSR_GS_BASE -> cpu.gsBase;
            case MSR_KERNEL_GS_BASE -> cpu.kernelGsBase;
            case MSR_TSC_AUX -> cpu.tscAux;
            default -> {
                if (!devices.claimsMsr(index)) {
                    throw GuestFault.gp();
                }
                yield devices.readMsr(index);
            }
        };
    }

    /** An MSR the CPU itself holds, for a monitor's old/new values; 0 for the ones devices hold. */
    private long architecturalMsr(int index) {
        return switch (index) {
            case MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP, MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR,
                 MSR_SFMASK, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_PAT -> readMsr(index);
            default -> 0;
        };
    }

    void writeMsr(int index, long value) {
        switch (index) {
            case MSR_TSC -> devices.setTsc(value);
            case MSR_MTRR_DEF_TYPE, MSR_BIOS_SIGN_ID -> { }
            case MSR_SYSENTER_CS -> cpu.sysenterCs = value;
            case MSR_SYSENTER_ESP -> cpu.sysenterEsp = value;
            case MSR_SYSENTER_EIP -> cpu.sysenterEip = value;
            case MSR_MISC_ENABLE -> cpu.miscEnable = value;
            case MSR_PAT -> cpu.pat = value;
            case MSR_EFER -> {
                if ((value & ~(EFER_WRITABLE | SpecialRegisters.EFER_LMA)) != 0) {
                    throw GuestFault.gp();
                }
                cpu.efer = (value & EFER_WRITABLE) | (cpu.efer & SpecialRegisters.EFER_LMA);
                mmu.flush();
            }
            case MSR_STAR -> cpu.star = value;
            case MSR_LSTAR -> cpu.lstar = canonical(value);
            case MSR_CSTAR -> cpu.cstar = canonical(value);
            case MSR_SFMASK -> cpu.sfmask = value & 0xffff_ffffL;
            case MSR_FS_BASE -> cpu.fsBase = canonical(value);
            case MSR_GS_BASE -> cpu.gsBase = canonical(value);
            case MSR_KERNEL_GS_BASE -> cpu.kernelGsBase = canonical(value);
            case MSR_TSC_AUX -> cpu.tscAux = value & 0xffff_ffffL;
            default -> {
                if (!devices.claimsMsr(index) || !devices.writeMsr(index, value)) {
                    throw GuestFault.gp();
                }
            }
        }
    }

    private static long canonical(long value) {
        if ((value << 16 >> 16) != value) {
            throw GuestFault.gp();
        }
        return value;
    }

    private void descriptorTable(Instruction insn) {
        switch (insn.sub) {
            case 0, 1 -> { // SGDT, SIDT
                DescriptorTable table = insn.sub == 0 ? cpu.gdt : cpu.idt;
                long address = executor.address(insn);
                mmu.probeWrite(address, 10);
                mmu.write16(address, table.limit());
                mmu.write64(address + 2, table.base());
            }
            case 2, 3 -> { // LGDT, LIDT
                requireRing0();
                long address = executor.address(insn);
                int limit = mmu.read16(address);
                long base = mmu.read64(address + 2);
                DescriptorTable table = new DescriptorTable(canonical(base), limit);
                if (insn.sub == 2) {
                    DescriptorTable old = cpu.gdt;
                    cpu.gdt = table;
                    monitor.descriptorTableLoaded(cpu.rip, MonitorEvent.Table.GDT, old, table);
                } else {
                    DescriptorTable old = cpu.idt;
                    cpu.idt = table;
                    monitor.descriptorTableLoaded(cpu.rip, MonitorEvent.Table.IDT, old, table);
                }
            }
            case 4 -> executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.cr0 & 0xffff); // SMSW
            case 6 -> { // LMSW: only PE, MP, EM, TS; PE cannot be cleared
                requireRing0();
                long value = executor.readRm(insn, 2) & 0xf;
                cpu.cr0 = (cpu.cr0 & ~0xeL) | value | (cpu.cr0 & 1);
            }
            default -> throw GuestFault.ud();
        }
    }

    private void taskAndLdt(Instruction insn) {
        switch (insn.sub) {
            case 0 -> executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.ldt.selector()); // SLDT
            case 1 -> executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.tr.selector()); // STR
            case 2 -> { // LLDT: only the null selector (no LDT) is supported
                requireRing0();
                int selector = (int) executor.readRm(insn, 2);
                if ((selector & 0xfffc) != 0) {
                    throw GuestFault.gp(selector & 0xfffc);
                }
                cpu.ldt = Segment.unusableLdt();
            }
            case 3 -> ltr((int) executor.readRm(insn, 2));
            case 4, 5 -> verify(insn.sub == 5, (int) executor.readRm(insn, 2));
            default -> throw GuestFault.ud();
        }
    }

    /**
     * VERR/VERW: ZF tells whether the segment {@code selector} names could be read (written) from the
     * current privilege level. Kernels execute VERW for its side effect on CPU buffers (MDS mitigation).
     */
    private void verify(boolean write, int selector) {
        boolean accessible = false;
        if ((selector & 0xfffc) != 0 && (selector & 4) == 0 && (selector | 7) <= cpu.gdt.limit()) {
            Segment segment = Segment.fromDescriptor(Descriptors.read(cpu, mmu, selector), selector);
            boolean code = (segment.type() & 8) != 0;
            boolean conforming = code && (segment.type() & 4) != 0;
            boolean privileged = conforming || Math.max(cpu.cpl, selector & 3) <= segment.dpl();
            boolean permitted = write ? !code && (segment.type() & 2) != 0 : !code || (segment.type() & 2) != 0;
            accessible = segment.s() && privileged && permitted;
        }
        long flags = cpu.rflags();
        Alu.setArithmetic(cpu, accessible ? flags | Flags.ZF : flags & ~Flags.ZF);
    }

    /** LTR: a 16-byte available 64-bit TSS descriptor, marked busy in the GDT. */
    private void ltr(int selector) {
        requireRing0();
        if ((selector & 0xfffc) == 0) {
            throw GuestFault.gp();
        }
        long low = Descriptors.read(cpu, mmu, selector);
        long high = mmu.readSupervisor(cpu.gdt.base() + (selector & ~7) + 8, 8);
        Segment tss = Segment.fromDescriptor(low, selector);
        if (tss.s() || tss.type() != 0x9) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!tss.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        long base = tss.base() | (high << 32);
        mmu.writeSupervisor(cpu.gdt.base() + (selector & ~7), 8, low | (2L << 40)); // busy
        cpu.tr = new Segment(base, tss.limit(), selector, 0xb, true, 0, false, false, false, tss.g(), false, false);
    }

    private void loadDataSegment(int index, int selector) {
        Segment segment = index == CpuState.SS ? Descriptors.stack(cpu, mmu, selector, cpu.cpl) : Descriptors.data(cpu, mmu, selector);
        if (index == CpuState.FS || index == CpuState.GS) {
            // In 64-bit mode a selector load sets the base from the descriptor (the upper half becomes zero).
            cpu.loadSegment(index, segment);
        } else {
            cpu.segments[index] = segment;
        }
        if (index == CpuState.SS) {
            cpu.interruptShadow = true;
        }
    }

    private void syscall(long next) {
        if ((cpu.efer & SpecialRegisters.EFER_SCE) == 0) {
            throw GuestFault.ud();
        }
        int selector = (int) (cpu.star >>> 32) & 0xfffc;
        cpu.gpr[RCX] = next;
        cpu.gpr[CpuState.R11] = cpu.rflags() & ~Flags.RF;
        cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, selector, 0xb, true, 0, false, true, true, true, false, false));
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, selector + 8, 0x3, true, 0, true, true, false, true, false, false);
        cpu.setRflags(cpu.rflags() & ~cpu.sfmask & ~Flags.RF);
        cpu.rip = cpu.lstar;
    }

    private void sysret(Instruction insn) {
        requireRing0();
        if ((cpu.efer & SpecialRegisters.EFER_SCE) == 0) {
            throw GuestFault.ud();
        }
        if (insn.opSize != 8) {
            throw GuestFault.ud(); // return to 32-bit compatibility mode is not supported
        }
        long target = cpu.gpr[RCX];
        if ((target << 16 >> 16) != target) {
            throw GuestFault.gp();
        }
        int base = (int) (cpu.star >>> 48) & 0xffff;
        cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, (base + 16) | 3, 0xb, true, 3, false, true, true, true, false, false));
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, (base + 8) | 3, 0x3, true, 3, true, true, false, true, false, false);
        cpu.setRflags((cpu.gpr[CpuState.R11] & ~(Flags.RF | Flags.VM)) | Flags.RESERVED_ONE);
        cpu.rip = target;
    }

    /**
     * RETF: pops RIP and CS (each of the operand size), and on a return to an outer privilege level also
     * RSP and SS. Kernels use it at boot to reload CS after loading their own GDT.
     */
    private void farReturn(Instruction insn) {
        int size = insn.opSize;
        long rsp = cpu.gpr[CpuState.RSP];
        long rip = mmu.read(rsp, size);
        int cs = (int) mmu.read(rsp + size, size) & 0xffff;
        int newCpl = cs & 3;
        if (newCpl < cpu.cpl) {
            throw GuestFault.gp(cs & 0xfffc);
        }
        Segment code = Descriptors.code(cpu, mmu, cs, newCpl);
        long released = rsp + 2L * size + insn.imm;
        if (newCpl > cpu.cpl) {
            long newRsp = mmu.read(released, size);
            int ss = (int) mmu.read(released + size, size) & 0xffff;
            Segment stack = Descriptors.stack(cpu, mmu, ss, newCpl);
            cpu.segments[CpuState.SS] = stack;
            released = newRsp + insn.imm;
        }
        if (code.l() && (rip << 16 >> 16) != rip) {
            throw GuestFault.gp();
        }
        if (!code.l()) {
            throw new InterruptDelivery.TripleFault("far return to compatibility mode (the interpreter runs 64-bit mode only)");
        }
        cpu.loadSegment(CpuState.CS, code);
        cpu.gpr[CpuState.RSP] = released;
        cpu.rip = rip;
    }

    /** IRETQ: pops RIP, CS, RFLAGS, RSP and SS (64-bit mode always pops the stack pointer). */
    private void iret() {
        long rsp = cpu.gpr[CpuState.RSP];
        long rip = mmu.read64(rsp);
        int cs = (int) mmu.read64(rsp + 8) & 0xffff;
        long flags = mmu.read64(rsp + 16);
        long newRsp = mmu.read64(rsp + 24);
        int ss = (int) mmu.read64(rsp + 32) & 0xffff;
        int newCpl = cs & 3;
        if (newCpl < cpu.cpl) {
            throw GuestFault.gp(cs & 0xfffc);
        }
        Segment code = Descriptors.code(cpu, mmu, cs, newCpl);
        if (!code.l()) {
            throw GuestFault.gp(cs & 0xfffc); // return to compatibility mode is not supported
        }
        Segment stack = Descriptors.stack(cpu, mmu, ss, newCpl);
        if ((rip << 16 >> 16) != rip) {
            throw GuestFault.gp();
        }
        long writable = Flags.WRITABLE;
        if (cpu.cpl > 0) {
            writable &= ~Flags.IOPL;
        }
        long current = cpu.rflags();
        cpu.loadSegment(CpuState.CS, code);
        cpu.segments[CpuState.SS] = stack;
        cpu.gpr[CpuState.RSP] = newRsp;
        cpu.rip = rip;
        cpu.setRflags((current & ~writable) | (flags & writable));
    }
}
