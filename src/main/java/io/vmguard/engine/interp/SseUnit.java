package io.vmguard.engine.interp;

/**
 * SSE and SSE2 instructions over the XMM registers ({@link CpuState#xmm}, low/high quadword pairs).
 * Opcodes not implemented here raise #UD, so a gap shows up as a logged invalid opcode, never as wrong
 * results.
 */
final class SseUnit {
    private final CpuState cpu;
    private final Mmu mmu;
    private final Executor executor;

    SseUnit(CpuState cpu, Mmu mmu, Executor executor) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
    }

    private void requireEnabled() {
        if ((cpu.cr0 & io.vmguard.engine.SpecialRegisters.CR0_EM) != 0
                || (cpu.cr4 & io.vmguard.engine.SpecialRegisters.CR4_OSFXSR) == 0) {
            throw GuestFault.ud();
        }
        if ((cpu.cr0 & io.vmguard.engine.SpecialRegisters.CR0_TS) != 0) {
            throw GuestFault.of(GuestFault.NM);
        }
    }

    /** The XMM register named by ModRM.reg. */
    private int xmmReg(Instruction insn) {
        return insn.reg & 15;
    }

    /** Reads the 128-bit r/m operand into {@code out[0..1]}; memory operands must be 16-byte aligned if {@code aligned}. */
    private void read128(Instruction insn, boolean aligned, long[] out) {
        if (insn.isMemory()) {
            long address = executor.address(insn);
            if (aligned && (address & 15) != 0) {
                throw GuestFault.gp();
            }
            long low = mmu.read64(address);
            long high = mmu.read64(address + 8);
            out[0] = low;
            out[1] = high;
        } else {
            out[0] = cpu.xmm[2 * (insn.rm & 15)];
            out[1] = cpu.xmm[2 * (insn.rm & 15) + 1];
        }
    }

    private void write128(Instruction insn, boolean aligned, long low, long high) {
        if (insn.isMemory()) {
            long address = executor.address(insn);
            if (aligned && (address & 15) != 0) {
                throw GuestFault.gp();
            }
            mmu.probeWrite(address, 16);
            mmu.write64(address, low);
            mmu.write64(address + 8, high);
        } else {
            cpu.xmm[2 * (insn.rm & 15)] = low;
            cpu.xmm[2 * (insn.rm & 15) + 1] = high;
        }
    }

    private final long[] operand = new long[2];

    void execute(Instruction insn) {
        requireEnabled();
        int opcode = insn.opcode & 0xff;
        int prefix = insn.mandatoryPrefix;
        int dst = xmmReg(insn);
        switch (opcode) {
            case 0x10, 0x28, 0x6f -> { // MOVUPS/MOVUPD/MOVSS/MOVSD, MOVAPS/MOVAPD, MOVDQA/MOVDQU
                if (opcode == 0x10 && (prefix == 0xf3 || prefix == 0xf2)) {
                    moveScalarLoad(insn, dst, prefix == 0xf3 ? 4 : 8);
                    return;
                }
                if (opcode == 0x6f && prefix == 0) {
                    throw unimplemented(); // MMX form
                }
                boolean aligned = opcode == 0x28 || (opcode == 0x6f && prefix == 0x66);
                read128(insn, aligned, operand);
                cpu.xmm[2 * dst] = operand[0];
                cpu.xmm[2 * dst + 1] = operand[1];
            }
            case 0x11, 0x29, 0x7f -> { // stores
                if (opcode == 0x11 && (prefix == 0xf3 || prefix == 0xf2)) {
                    moveScalarStore(insn, dst, prefix == 0xf3 ? 4 : 8);
                    return;
                }
                if (opcode == 0x7f && prefix == 0) {
                    throw unimplemented();
                }
                boolean aligned = opcode == 0x29 || (opcode == 0x7f && prefix == 0x66);
                write128(insn, aligned, cpu.xmm[2 * dst], cpu.xmm[2 * dst + 1]);
            }
            case 0x57, 0xef -> { // XORPS/XORPD, PXOR
                if (opcode == 0xef && prefix != 0x66) {
                    throw unimplemented();
                }
                read128(insn, true, operand);
                cpu.xmm[2 * dst] ^= operand[0];
                cpu.xmm[2 * dst + 1] ^= operand[1];
            }
            case 0x6e -> { // MOVD/MOVQ xmm, r/m
                if (prefix != 0x66) {
                    throw unimplemented();
                }
                int size = insn.opSize == 8 ? 8 : 4;
                cpu.xmm[2 * dst] = executor.readRm(insn, size);
                cpu.xmm[2 * dst + 1] = 0;
            }
            case 0x7e -> {
                if (prefix == 0x66) { // MOVD/MOVQ r/m, xmm
                    int size = insn.opSize == 8 ? 8 : 4;
                    executor.writeRm(insn, size, cpu.xmm[2 * dst]);
                } else if (prefix == 0xf3) { // MOVQ xmm, xmm/m64
                    long value = insn.isMemory() ? mmu.read64(executor.address(insn)) : cpu.xmm[2 * (insn.rm & 15)];
                    cpu.xmm[2 * dst] = value;
                    cpu.xmm[2 * dst + 1] = 0;
                } else {
                    throw unimplemented();
                }
            }
            case 0xd6 -> { // MOVQ xmm/m64, xmm
                if (prefix != 0x66) {
                    throw unimplemented();
                }
                if (insn.isMemory()) {
                    mmu.write64(executor.address(insn), cpu.xmm[2 * dst]);
                } else {
                    cpu.xmm[2 * (insn.rm & 15)] = cpu.xmm[2 * dst];
                    cpu.xmm[2 * (insn.rm & 15) + 1] = 0;
                }
            }
            default -> throw unimplemented();
        }
    }

    private void moveScalarLoad(Instruction insn, int dst, int size) {
        if (insn.isMemory()) {
            long value = mmu.read(executor.address(insn), size);
            cpu.xmm[2 * dst] = value;
            cpu.xmm[2 * dst + 1] = 0;
        } else {
            long mask = Flags.mask(size);
            cpu.xmm[2 * dst] = (cpu.xmm[2 * dst] & ~mask) | (cpu.xmm[2 * (insn.rm & 15)] & mask);
        }
    }

    private void moveScalarStore(Instruction insn, int src, int size) {
        if (insn.isMemory()) {
            mmu.write(executor.address(insn), size, cpu.xmm[2 * src]);
        } else {
            long mask = Flags.mask(size);
            int dst = insn.rm & 15;
            cpu.xmm[2 * dst] = (cpu.xmm[2 * dst] & ~mask) | (cpu.xmm[2 * src] & mask);
        }
    }

    private static GuestFault unimplemented() {
        return GuestFault.ud();
    }
}
