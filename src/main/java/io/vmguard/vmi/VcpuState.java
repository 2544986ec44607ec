package io.vmguard.vmi;

import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;

import java.util.Map;

/**
 * One vCPU's architectural state as introspection sees it, captured while the vCPU was stopped at an
 * instruction boundary: general and special registers plus the MSRs a monitor needs.
 *
 * @param msrs the values of {@link Msr#WATCHED}, keyed by MSR index; an MSR the engine could not read is absent
 */
public record VcpuState(int index, Registers registers, SpecialRegisters special, Map<Integer, Long> msrs) {
    public VcpuState {
        msrs = Map.copyOf(msrs);
    }

    /** The MSR's value, or 0 when it was not captured. */
    public long msr(int index) {
        return msrs.getOrDefault(index, 0L);
    }

    /** Current privilege level: the DPL of CS (its selector's RPL in 64-bit mode equals it). */
    public int cpl() {
        return special.cs().selector() & 3;
    }

    public long lstar() {
        return msr(Msr.LSTAR);
    }

    /**
     * The per-CPU base a kernel uses for this vCPU: GS.base in the kernel, KERNEL_GS_BASE while user code
     * runs (swapgs has not exchanged them yet).
     */
    public long kernelPerCpuBase() {
        return cpl() == 0 ? msr(Msr.GS_BASE) : msr(Msr.KERNEL_GS_BASE);
    }

    /** The page-table root: CR3 with the PCID/flag bits cleared. */
    public long pageTableRoot() {
        return special.cr3() & 0x000f_ffff_ffff_f000L;
    }
}
