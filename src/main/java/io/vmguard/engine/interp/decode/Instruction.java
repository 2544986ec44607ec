package io.vmguard.engine.interp.decode;

import io.vmguard.engine.interp.cpu.CpuState;

/**
 * One decoded instruction of any mode: which handler runs it ({@link #op}) and its operands, worked out
 * once and cached per guest code page. Mutable only while the decoder fills it in.
 */
public final class Instruction {
    public int op;
    /** ALU operation, group index, condition code or other opcode-specific selector. */
    public int sub;
    public int length;
    /** The opcode as read: one byte, 0x0fXX, 0x0f38XX or 0x0f3aXX. */
    public int opcode;
    public int opSize;
    public int addrSize = 8;
    /** ModRM.reg (with REX.R), or the register encoded in the opcode. */
    public int reg;
    /** The register operand when ModRM.mod is 3 (with REX.B); -1 for a memory operand. */
    public int rm = -1;
    public int base = -1;
    public int index = -1;
    public int scale = 1;
    public long disp;
    public boolean ripRelative;
    /**
     * In 64-bit mode: FS or GS override ({@link CpuState#FS}, {@link CpuState#GS}), or -1. Outside it
     * ({@link #legacy}): the segment of the memory operand, override or default (DS, SS for stack bases).
     */
    public int segment = -1;
    /** The default operand/address size this was decoded for (16, 32, 64): blocks never run in another. */
    public int codeBits = 64;
    /** Decoded outside 64-bit mode: memory operands are segment:offset, offsets wrap at the address size. */
    public boolean legacy;
    public long imm;
    public long imm2;
    /** 0, {@link #REP} (F3) or {@link #REPNE} (F2). */
    public int rep;
    public boolean lock;
    /** A REX prefix was present: byte registers 4-7 are SPL..DIL, not AH..BH. */
    public boolean rex;
    /** The SSE "mandatory prefix" in effect: 0, 0x66, 0xf3 or 0xf2. */
    public int mandatoryPrefix;
    /** How many guest instructions this stands for: 2 when a compare and its branch are fused (HotForms). */
    public int count = 1;
    /** The bytes, for logging an instruction the interpreter does not implement. */
    public byte[] bytes;

    public static final int REP = 1;
    public static final int REPNE = 2;

    public boolean isMemory() {
        return rm < 0;
    }
}
