package io.vmguard.engine.interp;

/**
 * One decoded instruction of any mode: which handler runs it ({@link #op}) and its operands, worked out
 * once and cached per guest code page. Mutable only while the decoder fills it in.
 */
final class Instruction {
    int op;
    /** ALU operation, group index, condition code or other opcode-specific selector. */
    int sub;
    int length;
    /** The opcode as read: one byte, 0x0fXX, 0x0f38XX or 0x0f3aXX. */
    int opcode;
    int opSize;
    int addrSize = 8;
    /** ModRM.reg (with REX.R), or the register encoded in the opcode. */
    int reg;
    /** The register operand when ModRM.mod is 3 (with REX.B); -1 for a memory operand. */
    int rm = -1;
    int base = -1;
    int index = -1;
    int scale = 1;
    long disp;
    boolean ripRelative;
    /**
     * In 64-bit mode: FS or GS override ({@link CpuState#FS}, {@link CpuState#GS}), or -1. Outside it
     * ({@link #legacy}): the segment of the memory operand, override or default (DS, SS for stack bases).
     */
    int segment = -1;
    /** The default operand/address size this was decoded for (16, 32, 64): blocks never run in another. */
    int codeBits = 64;
    /** Decoded outside 64-bit mode: memory operands are segment:offset, offsets wrap at the address size. */
    boolean legacy;
    long imm;
    long imm2;
    /** 0, {@link #REP} (F3) or {@link #REPNE} (F2). */
    int rep;
    boolean lock;
    /** A REX prefix was present: byte registers 4-7 are SPL..DIL, not AH..BH. */
    boolean rex;
    /** The SSE "mandatory prefix" in effect: 0, 0x66, 0xf3 or 0xf2. */
    int mandatoryPrefix;
    /** How many guest instructions this stands for: 2 when a compare and its branch are fused (HotForms). */
    int count = 1;
    /** The bytes, for logging an instruction the interpreter does not implement. */
    byte[] bytes;

    static final int REP = 1;
    static final int REPNE = 2;

    boolean isMemory() {
        return rm < 0;
    }
}
