package io.vmguard.engine.interp.mmu;

import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.memory.GuestMemory;

/** MMUs in 4-level paging over page tables a test wrote, for tests and benchmarks of the MMU alone. */
public final class LongModeMmus {
    /** A machine of RAM only: no page is watched or holds code, and any device access is a test's mistake. */
    public static final Mmu.Physical RAM_ONLY = new Mmu.Physical() {
        @Override
        public long readMmio(long address, int size) {
            throw new IllegalStateException("MMIO read at 0x" + Long.toHexString(address) + ": the test maps RAM only");
        }

        @Override
        public void writeMmio(long address, int size, long value) {
            throw new IllegalStateException("MMIO write at 0x" + Long.toHexString(address) + ": the test maps RAM only");
        }

        @Override
        public void ramWritten(long address, int size, long oldValue, long newValue) {}

        @Override
        public boolean seesWrites(long physicalPage) {
            return false;
        }
    };

    private LongModeMmus() {}

    /** An MMU in 64-bit mode with paging on at privilege {@code cpl}, its PML4 at {@code cr3}. */
    public static Mmu over(GuestMemory memory, long cr3, int cpl, Mmu.Physical machine) {
        CpuState cpu = new CpuState();
        cpu.cr0 = SpecialRegisters.CR0_PE | SpecialRegisters.CR0_PG;
        cpu.cr4 = SpecialRegisters.CR4_PAE;
        cpu.efer = SpecialRegisters.EFER_LME | SpecialRegisters.EFER_LMA;
        cpu.cr3 = cr3;
        cpu.cpl = cpl;
        return new Mmu(cpu, memory, machine, new CodePageEpoch(() -> {}));
    }
}
