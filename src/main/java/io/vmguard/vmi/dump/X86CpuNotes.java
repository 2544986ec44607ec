package io.vmguard.vmi.dump;

import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.VcpuState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The two notes QEMU writes for each x86-64 vCPU, with the same byte layout, so that tools written for QEMU
 * dumps read ours.
 */
final class X86CpuNotes {
    /** sizeof(struct elf_prstatus) on x86-64. */
    static final int PRSTATUS_BYTES = 336;
    static final int PRSTATUS_PID_OFFSET = 32;
    /** Where pr_reg (a struct user_regs_struct) starts in elf_prstatus. */
    static final int PRSTATUS_REGS_OFFSET = 112;
    /** QEMUCPUSTATE_VERSION: still 1 since kernel_gs_base was appended; readers tell the two apart by size. */
    static final int QEMU_STATE_VERSION = 1;
    /** sizeof(QEMUCPUState) with kernel_gs_base (current QEMU; 432 before it). */
    static final int QEMU_STATE_BYTES = 440;

    private X86CpuNotes() {}

    /**
     * NT_PRSTATUS ("CORE"): an elf_prstatus whose pr_pid is the vCPU's number counted from 1 (QEMU's
     * cpu_index + 1) and whose pr_reg holds the registers in user_regs_struct order. Signal fields, times and
     * orig_rax are zero, as QEMU leaves them.
     */
    static ElfNote prStatus(VcpuState vcpu) {
        Registers r = vcpu.registers();
        SpecialRegisters s = vcpu.special();
        ByteBuffer out = ByteBuffer.allocate(PRSTATUS_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(PRSTATUS_PID_OFFSET, vcpu.index() + 1);
        out.position(PRSTATUS_REGS_OFFSET);
        long[] userRegs = {
                r.r15(), r.r14(), r.r13(), r.r12(), r.rbp(), r.rbx(), r.r11(), r.r10(),
                r.r9(), r.r8(), r.rax(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), 0 /* orig_rax */,
                r.rip(), s.cs().selector(), r.rflags(), r.rsp(), s.ss().selector(),
                s.fs().base(), s.gs().base(),
                s.ds().selector(), s.es().selector(), s.fs().selector(), s.gs().selector()};
        for (long value : userRegs) {
            out.putLong(value);
        }
        return new ElfNote("CORE", ElfNote.NT_PRSTATUS, out.array());
    }

    /**
     * The "QEMU" note (type 0): QEMUCPUState, with segments as QEMU's SegmentCache holds them (expanded limit,
     * descriptor attribute bits in {@code flags}). crash's kaslr_helper reads CR3 and the IDT base from it to
     * find a KASLR kernel's slide; elf2dmp reads kernel_gs_base.
     */
    static ElfNote qemuCpuState(VcpuState vcpu) {
        Registers r = vcpu.registers();
        SpecialRegisters s = vcpu.special();
        ByteBuffer out = ByteBuffer.allocate(QEMU_STATE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(QEMU_STATE_VERSION).putInt(QEMU_STATE_BYTES);
        long[] registers = {
                r.rax(), r.rbx(), r.rcx(), r.rdx(), r.rsi(), r.rdi(), r.rsp(), r.rbp(),
                r.r8(), r.r9(), r.r10(), r.r11(), r.r12(), r.r13(), r.r14(), r.r15(),
                r.rip(), r.rflags()};
        for (long value : registers) {
            out.putLong(value);
        }
        for (Segment segment : new Segment[] {s.cs(), s.ds(), s.es(), s.fs(), s.gs(), s.ss(), s.ldt(), s.tr()}) {
            putSegment(out, segment.selector(), segment.limit(), qemuFlags(segment), segment.base());
        }
        for (DescriptorTable table : new DescriptorTable[] {s.gdt(), s.idt()}) {
            putSegment(out, 0, table.limit(), 0, table.base());
        }
        out.putLong(s.cr0()).putLong(0 /* cr1 */).putLong(s.cr2()).putLong(s.cr3()).putLong(s.cr4());
        out.putLong(vcpu.msr(Msr.KERNEL_GS_BASE));
        return new ElfNote("QEMU", 0, out.array());
    }

    private static void putSegment(ByteBuffer out, int selector, int limit, int flags, long base) {
        out.putInt(selector).putInt(limit).putInt(flags).putInt(0).putLong(base);
    }

    /**
     * QEMU keeps a segment's attributes where they sit in the descriptor's high dword: type at bit 8, S 12,
     * DPL 13-14, P 15, AVL 20, L 21, D/B 22, G 23. An unusable segment is not present.
     */
    static int qemuFlags(Segment segment) {
        boolean present = segment.present() && !segment.unusable();
        return (segment.type() & 0xf) << 8
                | (segment.s() ? 1 << 12 : 0)
                | (segment.dpl() & 3) << 13
                | (present ? 1 << 15 : 0)
                | (segment.avl() ? 1 << 20 : 0)
                | (segment.l() ? 1 << 21 : 0)
                | (segment.db() ? 1 << 22 : 0)
                | (segment.g() ? 1 << 23 : 0);
    }
}
