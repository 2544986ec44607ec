package io.vmguard.engine.interp.decode;

import io.vmguard.engine.interp.cpu.Alu;

/**
 * Narrows the commonest instructions to forms with one operand kind and size ({@link Op#ALU_RR64} and
 * the like) after decoding. The generic handlers pick register or memory, size and byte-register quirks
 * on every execution, branches the host CPU mispredicts in a mixed instruction stream; a hot form makes
 * those choices once, here. What the instruction does is unchanged: the differential tests run both.
 */
public final class HotForms {
    private HotForms() {}

    /** Rewrites {@code insn} into its hot form, if it has one. */
    public static void narrow(Instruction insn) {
        int size = insn.opSize;
        if (!insn.legacy && narrowFlat(insn)) {
            return;
        }
        if (size != 8 && size != 4) {
            return; // 8- and 16-bit operands merge into the register: the generic paths handle that
        }
        boolean wide = size == 8;
        boolean memory = insn.isMemory();
        switch (insn.op) {
            case Op.ALU_RM_REG -> {
                if (!memory) {
                    insn.op = (short) (wide ? Op.ALU_RR64 : Op.ALU_RR32);
                }
            }
            case Op.ALU_REG_RM -> {
                if (!memory) {
                    swapRegisters(insn); // destination into rm, as in the RM_REG form
                    insn.op = (short) (wide ? Op.ALU_RR64 : Op.ALU_RR32);
                }
            }
            case Op.ALU_RM_IMM -> {
                if (!memory) {
                    insn.op = (short) (wide ? Op.ALU_RI64 : Op.ALU_RI32);
                }
            }
            case Op.LEA -> insn.op = (short) (wide ? Op.LEA64 : Op.LEA32);
            case Op.MOV_REG_IMM -> insn.op = (short) (wide ? Op.MOV_RI64 : Op.MOV_RI32);
            case Op.MOV_RM_IMM -> {
                if (memory) {
                    insn.op = (short) (wide ? Op.STORE_IMM64 : Op.STORE_IMM32);
                }
            }
            case Op.MOV_RM_REG -> insn.op = (short) (memory ? (wide ? Op.STORE64 : Op.STORE32) : (wide ? Op.MOV_RR64 : Op.MOV_RR32));
            case Op.MOV_REG_RM -> {
                if (memory) {
                    insn.op = (short) (wide ? Op.LOAD64 : Op.LOAD32);
                } else {
                    swapRegisters(insn);
                    insn.op = (short) (wide ? Op.MOV_RR64 : Op.MOV_RR32);
                }
            }
            case Op.MOVZX -> {
                if (memory && insn.sub == 1) {
                    insn.op = Op.LOAD8_ZX;
                }
            }
            case Op.SHIFT -> {
                // SHL, SHR, SAL, SAR by an immediate; rotates keep their flags the slow way.
                if (!memory && insn.imm >= 0 && insn.sub >= 4) {
                    insn.op = Op.SHIFT_RI;
                }
            }
            default -> { }
        }
    }

    /**
     * The stack and branch forms of 64-bit mode, where the stack is flat and a target only has to be canonical:
     * PUSH and POP of a 64-bit register, near CALL and RET with 8-byte slots, Jcc and JMP rel (whose operand
     * size, 4, says nothing about the target's width there). True when {@code insn} was narrowed.
     */
    private static boolean narrowFlat(Instruction insn) {
        boolean slot = insn.opSize == 8; // not a 16-bit PUSH, POP or RET (66 prefix)
        int op = switch (insn.op) {
            case Op.PUSH_REG -> slot ? Op.PUSH64 : insn.op;
            case Op.POP_REG -> slot ? Op.POP64 : insn.op;
            case Op.CALL_REL -> Op.CALL64;
            case Op.RET -> slot ? Op.RET64 : insn.op;
            case Op.JCC -> Op.JCC64;
            case Op.JMP_REL -> Op.JMP64;
            default -> insn.op;
        };
        boolean narrowed = op != insn.op;
        insn.op = (short) op;
        return narrowed;
    }

    /**
     * A compare (CMP or TEST of a 32- or 64-bit register with a register or an immediate) followed by the
     * Jcc that reads its flags, as one instruction: one dispatch instead of two, and a condition worked out
     * from the operands rather than from recorded flags. Null when the pair does not fit.
     */
    public static Instruction fuse(Instruction compare, Instruction branch) {
        // Outside 64-bit mode a branch target wraps at the Jcc's operand size: left to the generic path.
        if (branch.op != Op.JCC && branch.op != Op.JCC64 || compare.legacy || compare.isMemory() || (compare.opSize != 8 && compare.opSize != 4)) {
            return null;
        }
        Instruction fused = new Instruction();
        switch (compare.op) {
            case Op.ALU_RR64, Op.ALU_RR32 -> {
                if (compare.sub != Alu.CMP) {
                    return null;
                }
                fused.op = Op.CMP_JCC;
                fused.reg = compare.reg;
            }
            case Op.ALU_RI64, Op.ALU_RI32 -> {
                if (compare.sub != Alu.CMP) {
                    return null;
                }
                fused.op = Op.CMP_JCC;
                fused.reg = -1;
                fused.imm = compare.imm;
            }
            case Op.TEST_RM_REG -> {
                fused.op = Op.TEST_JCC;
                fused.reg = compare.reg;
            }
            case Op.TEST_RM_IMM -> {
                fused.op = Op.TEST_JCC;
                fused.reg = -1;
                fused.imm = compare.imm;
            }
            default -> {
                return null;
            }
        }
        fused.rm = compare.rm;
        fused.opSize = compare.opSize;
        fused.sub = branch.sub;
        fused.disp = branch.imm;
        fused.imm2 = compare.length;
        fused.length = (byte) (compare.length + branch.length);
        fused.opcode = branch.opcode;
        fused.count = 2;
        fused.codeBits = compare.codeBits;
        return fused;
    }

    private static void swapRegisters(Instruction insn) {
        int reg = insn.reg;
        insn.reg = insn.rm;
        insn.rm = (byte) reg;
    }
}
