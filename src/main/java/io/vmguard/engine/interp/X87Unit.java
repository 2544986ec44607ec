package io.vmguard.engine.interp;

/**
 * The x87 FPU as far as 64-bit userland needs it. Control/status-word instructions work; arithmetic
 * instructions not implemented yet raise #UD (and are logged), never produce wrong results.
 *
 * <p>Registers are kept as their 80-bit images so that FXSAVE/FXRSTOR round-trip exactly.
 */
final class X87Unit {
    private final CpuState cpu;
    private final Mmu mmu;
    private final Executor executor;
    /** ST registers by physical index: the 64-bit significand and the 16-bit sign/exponent. */
    private final long[] significand = new long[8];
    private final int[] exponent = new int[8];

    X87Unit(CpuState cpu, Mmu mmu, Executor executor) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
    }

    void execute(Instruction insn) {
        int opcode = insn.opcode & 0xff;
        int group = insn.sub;
        if (opcode == 0xd9 && insn.isMemory() && group == 7) { // FNSTCW m16
            mmu.write16(executor.address(insn), cpu.fpuControl);
        } else if (opcode == 0xd9 && insn.isMemory() && group == 5) { // FLDCW m16
            cpu.fpuControl = mmu.read16(executor.address(insn));
        } else if (opcode == 0xdd && insn.isMemory() && group == 7) { // FNSTSW m16
            mmu.write16(executor.address(insn), cpu.fpuStatus);
        } else if (opcode == 0xdf && !insn.isMemory() && group == 4 && (insn.rm & 7) == 0) { // FNSTSW AX
            executor.writeReg(CpuState.RAX, 2, cpu.fpuStatus, true);
        } else if (opcode == 0xdb && !insn.isMemory() && group == 4 && (insn.rm & 7) == 3) { // FNINIT
            cpu.fpuControl = 0x037f;
            cpu.fpuStatus = 0;
            cpu.fpuTag = 0xffff;
        } else if (opcode == 0xdb && !insn.isMemory() && group == 4 && (insn.rm & 7) == 2) { // FNCLEX
            cpu.fpuStatus &= 0x7f00;
        } else {
            throw GuestFault.ud();
        }
    }

    /** Writes ST0-ST7 (16 bytes each, 80-bit images) as FXSAVE lays them out. */
    void saveRegisters(long address) {
        for (int i = 0; i < 8; i++) {
            mmu.write64(address + 16L * i, significand[i]);
            mmu.write16(address + 16L * i + 8, exponent[i]);
            mmu.write16(address + 16L * i + 10, 0);
            mmu.write32(address + 16L * i + 12, 0);
        }
    }

    void restoreRegisters(long address) {
        for (int i = 0; i < 8; i++) {
            significand[i] = mmu.read64(address + 16L * i);
            exponent[i] = mmu.read16(address + 16L * i + 8);
        }
    }
}
