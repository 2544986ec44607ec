package io.vmguard.engine.interp.mmu;

import io.vmguard.engine.Segment;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;

/** Reads segment descriptors from the guest's GDT or LDT, with the checks that raise #GP/#NP/#SS. */
public final class Descriptors {
    private Descriptors() {}

    /**
     * The raw 8-byte descriptor for {@code selector} from the GDT, or the LDT when its TI bit is set;
     * #GP(selector) if it lies outside the table (or names the LDT while none is loaded).
     */
    public static long read(CpuState cpu, Mmu mmu, int selector) {
        int index = selector & 0xfff8;
        if ((selector & 4) != 0) {
            if (cpu.ldt.unusable() || index + 7L > Integer.toUnsignedLong(cpu.ldt.limit())) {
                throw GuestFault.gp(selector & 0xfffc);
            }
            return mmu.readSupervisor(cpu.ldt.base() + index, 8);
        }
        if (index + 7 > cpu.gdt.limit()) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        return mmu.readSupervisor(cpu.gdt.base() + index, 8);
    }

    /** Loads a code segment for a far transfer to privilege {@code cpl}. */
    public static Segment code(CpuState cpu, Mmu mmu, int selector, int cpl) {
        if ((selector & 0xfffc) == 0) {
            throw GuestFault.gp();
        }
        Segment segment = Segment.fromDescriptor(read(cpu, mmu, selector), (selector & ~3) | cpl);
        if (!segment.s() || (segment.type() & 8) == 0) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!segment.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        return segment;
    }

    /**
     * Loads a stack segment for privilege {@code cpl}: writable data with DPL and RPL equal to it; a null
     * selector is allowed below ring 3 in long mode only.
     */
    public static Segment stack(CpuState cpu, Mmu mmu, int selector, int cpl) {
        if ((selector & 0xfffc) == 0) {
            if (cpl == 3 || !cpu.longMode()) {
                throw GuestFault.gp();
            }
            return nullSegment(selector, cpl);
        }
        Segment segment = Segment.fromDescriptor(read(cpu, mmu, selector), selector);
        if (!segment.s() || (segment.type() & 8) != 0 || (segment.type() & 2) == 0 || segment.dpl() != cpl || (selector & 3) != cpl) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!segment.present()) {
            throw GuestFault.withError(GuestFault.SS, selector & 0xfffc);
        }
        return segment;
    }

    /** Loads a data segment register (DS, ES, FS, GS). */
    public static Segment data(CpuState cpu, Mmu mmu, int selector) {
        if ((selector & 0xfffc) == 0) {
            return nullSegment(selector, 0);
        }
        Segment segment = Segment.fromDescriptor(read(cpu, mmu, selector), selector);
        boolean readable = segment.s() && ((segment.type() & 8) == 0 || (segment.type() & 2) != 0);
        boolean conformingCode = (segment.type() & 0xc) == 0xc;
        boolean privileged = conformingCode || Math.max(cpu.cpl, selector & 3) <= segment.dpl();
        if (!readable || !privileged) {
            throw GuestFault.gp(selector & 0xfffc);
        }
        if (!segment.present()) {
            throw GuestFault.withError(GuestFault.NP, selector & 0xfffc);
        }
        return segment;
    }

    public static Segment nullSegment(int selector, int dpl) {
        return new Segment(0, 0, selector, 0, false, dpl, false, false, false, false, false, true);
    }
}
