package io.vmguard.engine.interp.decode;

import io.vmguard.engine.interp.cpu.CpuState;

/**
 * One decoded instruction of any mode: which handler runs it ({@link #op}) and its operands, worked out
 * once and cached per guest code page. Mutable only while the decoder fills it in.
 *
 * <p>Dense on purpose: most guest code runs a few times per boot, and the interpreter then waits on memory
 * for its own decoded instructions (docs/benchmarks.md, session 10). Every small field is a byte or a short,
 * so an instance is 64 bytes with the JVM's 12-byte header (one cache line's worth) instead of 112, and a
 * block's instructions, allocated one after another, are walked as sequential memory.
 */
public final class Instruction {
    public long imm;
    public long disp;
    public int imm2;
    /** The opcode as read: one byte, 0x0fXX, 0x0f38XX or 0x0f3aXX. */
    public int opcode;
    public short op;
    /** The SSE "mandatory prefix" in effect: 0, 0x66, 0xf3 or 0xf2. */
    public short mandatoryPrefix;
    /** ALU operation, group index, condition code or other opcode-specific selector. */
    public byte sub;
    public byte length;
    public byte opSize;
    public byte addrSize = 8;
    /** ModRM.reg (with REX.R), or the register encoded in the opcode. */
    public byte reg;
    /** The register operand when ModRM.mod is 3 (with REX.B); -1 for a memory operand. */
    public byte rm = -1;
    public byte base = -1;
    public byte index = -1;
    public byte scale = 1;
    /**
     * In 64-bit mode: FS or GS override ({@link CpuState#FS}, {@link CpuState#GS}), or -1. Outside it
     * ({@link #legacy}): the segment of the memory operand, override or default (DS, SS for stack bases).
     */
    public byte segment = -1;
    /** The default operand/address size this was decoded for (16, 32, 64): blocks never run in another. */
    public byte codeBits = 64;
    /** 0, {@link #REP} (F3) or {@link #REPNE} (F2). */
    public byte rep;
    /** How many guest instructions this stands for: 2 when a compare and its branch are fused (HotForms). */
    public byte count = 1;
    public boolean ripRelative;
    /** Decoded outside 64-bit mode: memory operands are segment:offset, offsets wrap at the address size. */
    public boolean legacy;
    public boolean lock;
    /** A REX prefix was present: byte registers 4-7 are SPL..DIL, not AH..BH. */
    public boolean rex;
    /** The bytes, for logging an instruction the interpreter does not implement (null for all others). */
    public byte[] bytes;

    public static final int REP = 1;
    public static final int REPNE = 2;

    public boolean isMemory() {
        return rm < 0;
    }
}
