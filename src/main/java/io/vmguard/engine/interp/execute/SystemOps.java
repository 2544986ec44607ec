package io.vmguard.engine.interp.execute;

import static io.vmguard.engine.interp.cpu.CpuState.RAX;
import static io.vmguard.engine.interp.cpu.CpuState.RCX;
import static io.vmguard.engine.interp.cpu.CpuState.RDX;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Cpuid;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.mmu.Descriptors;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.monitor.MonitorHooks;
import io.vmguard.engine.monitor.MonitorEvent;

/**
 * Privileged and system instructions: control and debug registers (with the mode changes CR0 and EFER
 * make), MSRs, descriptor tables, segment loads, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, CPUID, the TSC,
 * CLI/STI and HLT; far transfers and IRET go to {@link FarTransfers}.
 */
public final class SystemOps {
    static final int MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_MTRRCAP = 0xfe;
    /** IA32_BIOS_SIGN_ID: the loaded microcode revision, which Intel CPUs report and Linux reads at boot. */
    static final int MSR_BIOS_SIGN_ID = 0x8b;
    /** IA32_ARCH_CAPABILITIES: read-only, {@link Cpuid#ARCH_CAPABILITIES_MSR}. */
    static final int MSR_ARCH_CAPABILITIES = 0x10a;
    static final int MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;
    static final int MSR_MISC_ENABLE = 0x1a0, MSR_PAT = 0x277, MSR_MTRR_DEF_TYPE = 0x2ff;
    static final int MSR_EFER = 0xc000_0080, MSR_STAR = 0xc000_0081, MSR_LSTAR = 0xc000_0082;
    static final int MSR_CSTAR = 0xc000_0083, MSR_SFMASK = 0xc000_0084;
    static final int MSR_FS_BASE = 0xc000_0100, MSR_GS_BASE = 0xc000_0101, MSR_KERNEL_GS_BASE = 0xc000_0102;
    static final int MSR_TSC_AUX = 0xc000_0103;

    public static final long EFER_WRITABLE = SpecialRegisters.EFER_SCE | SpecialRegisters.EFER_LME | SpecialRegisters.EFER_NXE;

    private final CpuState cpu;
    private final Mmu mmu;
    private final Executor executor;
    private final Devices devices;
    private final int apicId;
    private final int[] cpuid = new int[4];
    private final MonitorHooks monitor;
    private final FarTransfers far;

    /**
     * The hardware around the CPU that system instructions reach: the TSC (in ticks of
     * {@link Cpuid#TSC_HZ}), the local APIC's task priority (CR8), and the MSRs of the interrupt and timer
     * devices (IA32_APIC_BASE, IA32_TSC_DEADLINE, kvmclock).
     */
    public interface Devices {
        long tsc();

        void setTsc(long value);

        /** CR8: TPR bits 7:4. */
        int taskPriorityClass();

        void setTaskPriorityClass(int value);

        boolean claimsMsr(int index);

        public long readMsr(int index);

        /** False when the value is invalid: the guest takes #GP. */
        public boolean writeMsr(int index, long value);
    }

    public SystemOps(CpuState cpu, Mmu mmu, Executor executor, Devices devices, int apicId, MonitorHooks monitor) {
        this.monitor = monitor;
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
        this.devices = devices;
        this.apicId = apicId;
        this.far = new FarTransfers(cpu, mmu, executor);
    }

    private void requireRing0() {
        if (cpu.cpl != 0) {
            throw GuestFault.gp();
        }
    }

    /** Executes {@code insn} and moves RIP on (or to where the instruction transfers control). */
    public void execute(Instruction insn) {
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
                long value = readCr(insn.reg);
                cpu.gpr[insn.rm] = insn.legacy ? value & 0xffff_ffffL : value;
            }
            case Op.MOV_TO_CR -> {
                requireRing0();
                long old = insn.reg == 8 ? 0 : readCr(insn.reg);
                long value = cpu.gpr[insn.rm];
                writeCr(insn.reg, insn.legacy ? value & 0xffff_ffffL : value);
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
            case Op.SYSENTER -> { monitor.systemCall(cpu.rip); sysenter(); return; }
            case Op.SYSEXIT -> { sysexit(insn); return; }
            case Op.IRET -> { far.iret(insn); return; }
            case Op.RETF -> { far.farReturn(insn); return; }
            case Op.FAR_JMP, Op.FAR_CALL -> { far.jumpOrCall(insn); return; }
            case Op.LOAD_FAR_POINTER -> far.loadFarPointer(insn, this::loadDataSegment);
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
                int selector = (int) (insn.legacy ? executor.readStack(0, insn.opSize) : executor.pop(insn.opSize)) & 0xffff;
                loadDataSegment(insn.reg, selector);
                if (insn.legacy) {
                    executor.pop(insn.opSize); // only once the load succeeded
                }
            }
            default -> throw GuestFault.ud();
        }
        cpu.rip = next;
    }

    private static final long CR4_TSD = 1L << 2;
    public static final long CR4_SUPPORTED = CR4_TSD | (1L << 3) | SpecialRegisters.CR4_PAE | SpecialRegisters.CR4_PGE
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
            case 0 -> writeCr0(value);
            case 2 -> cpu.cr2 = value;
            case 3 -> {
                if ((value & 0xfff0_0000_0000_0000L) != 0) {
                    throw GuestFault.gp();
                }
                cpu.cr3 = value;
                loadPdptes();
                mmu.flushNonGlobal();
            }
            case 4 -> {
                if ((value & ~CR4_SUPPORTED) != 0 || (cpu.longMode() && (value & SpecialRegisters.CR4_PAE) == 0)) {
                    throw GuestFault.gp();
                }
                cpu.cr4 = value;
                loadPdptes();
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

    /**
     * MOV to CR0: PE and PG turn the modes on and off. PG with EFER.LME enters long mode (EFER.LMA; CR4.PAE
     * required, and not from 64-bit code), PG cleared leaves it (only from compatibility mode); PG with PAE
     * outside long mode loads the PDPTEs.
     */
    private void writeCr0(long value) {
        boolean pe = (value & SpecialRegisters.CR0_PE) != 0;
        boolean pg = (value & SpecialRegisters.CR0_PG) != 0;
        if ((value >>> 32) != 0 || (pg && !pe) || ((value & (1L << 29)) != 0 && (value & (1L << 30)) == 0)) {
            throw GuestFault.gp(); // reserved bits, PG without PE, NW without CD
        }
        boolean wasPaging = cpu.paging();
        long efer = cpu.efer;
        if (pg && !wasPaging && (efer & SpecialRegisters.EFER_LME) != 0) {
            if ((cpu.cr4 & SpecialRegisters.CR4_PAE) == 0 || cpu.segments[CpuState.CS].l()) {
                throw GuestFault.gp();
            }
            efer |= SpecialRegisters.EFER_LMA;
        } else if (!pg && wasPaging && cpu.longMode()) {
            if (cpu.codeBits == 64) {
                throw GuestFault.gp(); // long mode is left from compatibility mode only
            }
            efer &= ~SpecialRegisters.EFER_LMA;
        }
        long oldCr0 = cpu.cr0;
        long oldEfer = cpu.efer;
        cpu.cr0 = value | SpecialRegisters.CR0_ET;
        cpu.efer = efer;
        try {
            if (pg && !wasPaging) {
                loadPdptes();
            }
        } catch (GuestFault fault) {
            cpu.cr0 = oldCr0;
            cpu.efer = oldEfer;
            throw fault;
        }
        if (cpu.realMode()) {
            cpu.cpl = 0;
        }
        cpu.updateMode();
        mmu.flush();
    }

    /**
     * PAE paging outside long mode reads the four PDPTEs when CR3 (or CR0.PG, CR4.PAE) is loaded; one with
     * reserved bits set is a #GP(0) of the load itself.
     */
    private void loadPdptes() {
        if (!cpu.paging() || (cpu.cr4 & SpecialRegisters.CR4_PAE) == 0 || cpu.longMode()) {
            return;
        }
        long base = cpu.cr3 & 0xffff_ffe0L;
        long[] entries = new long[4];
        for (int i = 0; i < 4; i++) {
            entries[i] = mmu.physicalRead(base + 8L * i, 8);
            if ((entries[i] & 1) != 0 && (entries[i] & Mmu.PDPTE_RESERVED) != 0) {
                throw GuestFault.gp();
            }
        }
        System.arraycopy(entries, 0, cpu.pdpte, 0, 4);
    }

    public long readMsr(int index) {
        return switch (index) {
            case MSR_TSC -> devices.tsc();
            case MSR_MTRRCAP, MSR_MTRR_DEF_TYPE, MSR_BIOS_SIGN_ID -> 0;
            case MSR_ARCH_CAPABILITIES -> Cpuid.ARCH_CAPABILITIES_MSR;
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

    public void writeMsr(int index, long value) {
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
                if (cpu.paging() && ((value ^ cpu.efer) & SpecialRegisters.EFER_LME) != 0) {
                    throw GuestFault.gp(); // LME changes only while paging is off
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
                if (insn.legacy) { // outside 64-bit mode a 4-byte base (with a 16-bit operand, 24 bits of it)
                    mmu.probeWrite(address, 6);
                    mmu.write16(address, table.limit());
                    mmu.write32(address + 2, (int) (insn.opSize == 2 ? table.base() & 0xff_ffff : table.base()));
                    break;
                }
                mmu.probeWrite(address, 10);
                mmu.write16(address, table.limit());
                mmu.write64(address + 2, table.base());
            }
            case 2, 3 -> { // LGDT, LIDT
                requireRing0();
                long address = executor.address(insn);
                int limit = mmu.read16(address);
                long base = insn.legacy
                        ? mmu.read32(address + 2) & (insn.opSize == 2 ? 0xff_ffffL : 0xffff_ffffL)
                        : canonical(mmu.read64(address + 2));
                DescriptorTable table = new DescriptorTable(base, limit);
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
                cpu.updateMode();
            }
            default -> throw GuestFault.ud();
        }
    }

    private void taskAndLdt(Instruction insn) {
        switch (insn.sub) {
            case 0 -> executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.ldt.selector()); // SLDT
            case 1 -> executor.writeRm(insn, insn.isMemory() ? 2 : insn.opSize, cpu.tr.selector()); // STR
            case 2 -> lldt((int) executor.readRm(insn, 2));
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

    /**
     * LLDT: an LDT descriptor (system type 2) from the GDT, 16 bytes in long mode; a null selector leaves
     * no LDT (selectors with TI set then raise #GP). Not in real mode (#UD).
     */
    private void lldt(int selector) {
        if (cpu.realMode()) {
            throw GuestFault.ud();
        }
        requireRing0();
        if ((selector & 0xfffc) == 0) {
            cpu.ldt = Segment.unusableLdt();
            return;
        }
        if ((selector & 4) != 0) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        long low = Descriptors.read(cpu, mmu, selector);
        Segment ldt = Segment.fromDescriptor(low, selector);
        if (ldt.s() || ldt.type() != 0x2) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!ldt.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        long base = ldt.base();
        if (cpu.longMode()) {
            base |= mmu.readSupervisor(cpu.gdt.base() + (selector & 0xfff8) + 8, 8) << 32;
        }
        cpu.ldt = new Segment(base, ldt.limit(), selector, 0x2, true, 0, false, false, false, ldt.g(), false, false);
    }

    /**
     * LTR: an available TSS descriptor, marked busy in the GDT: in long mode a 16-byte 64-bit one, outside
     * it an 8-byte 32-bit (type 9) or 16-bit (type 1) one. Not in real mode (#UD).
     */
    private void ltr(int selector) {
        if (cpu.realMode()) {
            throw GuestFault.ud();
        }
        requireRing0();
        if ((selector & 0xfffc) == 0) {
            throw GuestFault.gp();
        }
        long low = Descriptors.read(cpu, mmu, selector);
        boolean longMode = cpu.longMode();
        Segment tss = Segment.fromDescriptor(low, selector);
        boolean available = longMode ? tss.type() == 0x9 : tss.type() == 0x9 || tss.type() == 0x1;
        if (tss.s() || !available) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!tss.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        long base = tss.base();
        if (longMode) {
            base |= mmu.readSupervisor(cpu.gdt.base() + (selector & ~7) + 8, 8) << 32;
        }
        mmu.writeSupervisor(cpu.gdt.base() + (selector & ~7), 8, low | (2L << 40)); // busy
        cpu.tr = new Segment(base, tss.limit(), selector, tss.type() | 2, true, 0, false, false, false, tss.g(), false, false);
    }

    private void loadDataSegment(int index, int selector) {
        if (cpu.realMode()) {
            // Real mode: the base follows the selector; limit and attributes stay (what "unreal mode" relies on).
            Segment old = cpu.segments[index];
            cpu.loadSegment(index, new Segment((long) (selector & 0xffff) << 4, old.limit(), selector & 0xffff,
                    old.unusable() ? 0x3 : old.type(), true, 0, old.db(), true, false, old.g(), old.avl(), false));
            if (index == CpuState.SS) {
                cpu.interruptShadow = true;
            }
            return;
        }
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

    /**
     * SYSCALL: from 64-bit code to LSTAR, from compatibility mode to CSTAR, outside long mode to STAR's EIP;
     * CS and SS from STAR[47:32]. Outside 64-bit mode this is AMD's behaviour (Intel CPUs raise #UD there):
     * Linux's IA32 emulation enters through CSTAR on AMD guests, and through SYSENTER on Intel ones, which
     * is what the interpreter reports; taking both costs nothing and runs either kind of guest code.
     */
    private void syscall(long next) {
        if ((cpu.efer & SpecialRegisters.EFER_SCE) == 0) {
            throw GuestFault.ud();
        }
        int selector = (int) (cpu.star >>> 32) & 0xfffc;
        if (!cpu.longMode()) {
            cpu.gpr[RCX] = next & 0xffff_ffffL;
            cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, selector, 0xb, true, 0, true, true, false, true, false, false));
            cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, selector + 8, 0x3, true, 0, true, true, false, true, false, false);
            cpu.setRflags(cpu.rflags() & ~(Flags.VM | Flags.IF | Flags.RF));
            cpu.rip = cpu.star & 0xffff_ffffL;
            return;
        }
        boolean from64 = cpu.codeBits == 64;
        cpu.gpr[RCX] = next;
        cpu.gpr[CpuState.R11] = cpu.rflags() & ~Flags.RF;
        cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, selector, 0xb, true, 0, false, true, true, true, false, false));
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, selector + 8, 0x3, true, 0, true, true, false, true, false, false);
        cpu.setRflags(cpu.rflags() & ~cpu.sfmask & ~Flags.RF);
        cpu.rip = from64 ? cpu.lstar : cpu.cstar;
    }

    /** SYSRET: to 64-bit code (REX.W) at STAR[63:48]+16, or to compatibility mode (SYSRETL) at STAR[63:48]. */
    private void sysret(Instruction insn) {
        requireRing0(); // before the #UD checks, as the CPUs the differential tests compare against do
        if ((cpu.efer & SpecialRegisters.EFER_SCE) == 0 || cpu.codeBits != 64) {
            throw GuestFault.ud();
        }
        int base = (int) (cpu.star >>> 48) & 0xffff;
        long target = cpu.gpr[RCX];
        if (insn.opSize == 8) {
            if ((target << 16 >> 16) != target) {
                throw GuestFault.gp();
            }
            cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, (base + 16) | 3, 0xb, true, 3, false, true, true, true, false, false));
        } else {
            target &= 0xffff_ffffL;
            cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, base | 3, 0xb, true, 3, true, true, false, true, false, false));
        }
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, (base + 8) | 3, 0x3, true, 3, true, true, false, true, false, false);
        cpu.setRflags((cpu.gpr[CpuState.R11] & ~(Flags.RF | Flags.VM)) | Flags.RESERVED_ONE);
        cpu.rip = target;
    }

    /**
     * SYSENTER: to ring 0 at IA32_SYSENTER_CS/EIP/ESP, flat segments (64-bit code in long mode); the vDSO
     * of a 64-bit Linux enters its IA32 emulation this way on Intel CPUs.
     */
    private void sysenter() {
        int selector = (int) cpu.sysenterCs & 0xfffc;
        if (cpu.realMode() || selector == 0) {
            throw GuestFault.gp();
        }
        boolean longMode = cpu.longMode();
        cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, selector, 0xb, true, 0, !longMode, true, longMode, true, false, false));
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, selector + 8, 0x3, true, 0, true, true, false, true, false, false);
        cpu.setRflags(cpu.rflags() & ~(Flags.VM | Flags.IF | Flags.RF));
        cpu.rip = longMode ? cpu.sysenterEip : cpu.sysenterEip & 0xffff_ffffL;
        cpu.gpr[CpuState.RSP] = longMode ? cpu.sysenterEsp : cpu.sysenterEsp & 0xffff_ffffL;
    }

    /** SYSEXIT: to ring 3 at RDX/RCX (EDX/ECX), CS = SYSENTER_CS + 16 (32-bit) or + 32 (64-bit, REX.W). */
    private void sysexit(Instruction insn) {
        int selector = (int) cpu.sysenterCs & 0xfffc;
        if (cpu.realMode() || selector == 0) {
            throw GuestFault.gp();
        }
        requireRing0();
        boolean to64 = insn.opSize == 8;
        int cs = (selector + (to64 ? 32 : 16)) | 3;
        long target = to64 ? cpu.gpr[RDX] : cpu.gpr[RDX] & 0xffff_ffffL;
        if (to64 && !Executor.canonical(target)) {
            throw GuestFault.gp();
        }
        cpu.loadSegment(CpuState.CS, new Segment(0, 0xffffffff, cs, 0xb, true, 3, !to64, true, to64, true, false, false));
        cpu.segments[CpuState.SS] = new Segment(0, 0xffffffff, (cs + 8) | 3, 0x3, true, 3, true, true, false, true, false, false);
        cpu.gpr[CpuState.RSP] = to64 ? cpu.gpr[RCX] : cpu.gpr[RCX] & 0xffff_ffffL;
        cpu.rip = target;
    }
}
