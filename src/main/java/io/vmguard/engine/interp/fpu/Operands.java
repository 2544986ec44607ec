package io.vmguard.engine.interp.fpu;

import io.vmguard.engine.interp.decode.Instruction;

/**
 * The executor's integer operand access the x87 and SSE units use for their memory and general-register
 * operands: addressing, reads and writes exactly as the integer instructions do them (faults included).
 */
public interface Operands {
    /** The effective (linear) address of a memory operand, including an FS/GS base. */
    long address(Instruction insn);

    /** Writes a general register as x86 does: 32-bit writes zero the upper half, 8/16-bit writes merge. */
    void writeReg(int reg, int size, long value, boolean rex);

    long readRm(Instruction insn, int size);

    void writeRm(Instruction insn, int size, long value);
}
