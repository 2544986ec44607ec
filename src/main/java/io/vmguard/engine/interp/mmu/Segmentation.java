package io.vmguard.engine.interp.mmu;

import io.vmguard.engine.Segment;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;

/**
 * Segment:offset to linear address outside 64-bit mode: the offset checked against the segment's limit
 * (expand-down segments included) and the base added, wrapping at 4 GiB. A null selector's segment
 * (protected mode) cannot be used at all. Faults are #GP(0), or #SS(0) for the stack segment.
 *
 * <p>In 64-bit mode none of this applies (only the FS/GS bases are added, by the executor).
 */
public final class Segmentation {
    private Segmentation() {}

    /** The linear address of {@code size} bytes at {@code offset} in segment register {@code index}. */
    public static long linear(CpuState cpu, int index, long offset, int size) {
        Segment segment = cpu.segments[index];
        if (segment.unusable() && !cpu.realMode()) {
            throw fault(index);
        }
        if (!withinLimit(segment, offset, size)) {
            throw fault(index);
        }
        long base = index == CpuState.FS ? cpu.fsBase : index == CpuState.GS ? cpu.gsBase : segment.base();
        return (base + offset) & 0xffff_ffffL;
    }

    /**
     * Whether bytes {@code offset .. offset + size - 1} are inside the segment. An expand-down data segment
     * holds the offsets above its limit, up to 64 KiB or 4 GiB by its B bit.
     */
    static boolean withinLimit(Segment segment, long offset, int size) {
        long last = offset + size - 1;
        long limit = Integer.toUnsignedLong(segment.limit());
        boolean expandDown = segment.s() && (segment.type() & 0xc) == 0x4;
        if (expandDown) {
            long upper = segment.db() ? 0xffff_ffffL : 0xffff;
            return offset > limit && last <= upper;
        }
        return last <= limit;
    }

    private static GuestFault fault(int index) {
        return index == CpuState.SS ? GuestFault.withError(GuestFault.SS, 0) : GuestFault.gp();
    }

    /** The stack pointer mask outside 64-bit mode: SP (16 bits) or ESP (32), by SS's B bit. */
    public static long stackMask(CpuState cpu) {
        return cpu.segments[CpuState.SS].db() ? 0xffff_ffffL : 0xffff;
    }

    /** Writes the stack pointer as wide as the stack is (SP merges into RSP, ESP replaces it). */
    public static void setStackPointer(CpuState cpu, long value) {
        if (cpu.segments[CpuState.SS].db()) {
            cpu.gpr[CpuState.RSP] = value & 0xffff_ffffL;
        } else {
            cpu.gpr[CpuState.RSP] = (cpu.gpr[CpuState.RSP] & ~0xffffL) | (value & 0xffff);
        }
    }
}
