package io.vmguard.engine.interp;

/**
 * Narrows the commonest instructions to forms with one operand kind and size ({@link Op#ALU_RR64} and
 * the like) after decoding. The generic handlers pick register or memory, size and byte-register quirks
 * on every execution, branches the host CPU mispredicts in a mixed instruction stream; a hot form makes
 * those choices once, here. What the instruction does is unchanged: the differential tests run both.
 */
final class HotForms {
    private HotForms() {}

    /** Rewrites {@code insn} into its hot form, if it has one. */
    static void narrow(Instruction insn) {
        int size = insn.opSize;
        if (size != 8 && size != 4) {
            return; // 8- and 16-bit operands merge into the register: the generic paths handle that
        }
        boolean wide = size == 8;
        boolean memory = insn.isMemory();
        switch (insn.op) {
            case Op.ALU_RM_REG -> {
                if (!memory) {
                    insn.op = wide ? Op.ALU_RR64 : Op.ALU_RR32;
                }
            }
            case Op.ALU_REG_RM -> {
                if (!memory) {
                    swapRegisters(insn); // destination into rm, as in the RM_REG form
                    insn.op = wide ? Op.ALU_RR64 : Op.ALU_RR32;
                }
            }
            case Op.ALU_RM_IMM -> {
                if (!memory) {
                    insn.op = wide ? Op.ALU_RI64 : Op.ALU_RI32;
                }
            }
            case Op.MOV_RM_REG -> insn.op = memory ? (wide ? Op.STORE64 : Op.STORE32) : (wide ? Op.MOV_RR64 : Op.MOV_RR32);
            case Op.MOV_REG_RM -> {
                if (memory) {
                    insn.op = wide ? Op.LOAD64 : Op.LOAD32;
                } else {
                    swapRegisters(insn);
                    insn.op = wide ? Op.MOV_RR64 : Op.MOV_RR32;
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

    private static void swapRegisters(Instruction insn) {
        int reg = insn.reg;
        insn.reg = insn.rm;
        insn.rm = reg;
    }
}
