package io.vmguard.engine.interp.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * {@link Instruction} keeps its small fields in bytes and shorts (one cache line per instruction): the widest
 * value each can be given by the decoder survives the narrowing, and the fields that need more stay wide.
 */
class DenseFieldsTest {
    private static Instruction decode(String hex, int codeBits) {
        byte[] bytes = HexFormat.of().parseHex(hex);
        return new Decoder(address -> bytes[(int) address] & 0xff).decode(0, codeBits);
    }

    @Test
    void farJumpKeepsASelectorAboveSignedShortRange() {
        Instruction insn = decode("ea78563412ffff", 32); // JMP FAR 0xffff:0x12345678
        assertEquals(Op.FAR_JMP, insn.op);
        assertEquals(0xffff, insn.imm2);
        assertEquals(0x12345678L, insn.imm);
        assertEquals(7, insn.length);
    }

    @Test
    void movWithA64BitAbsoluteAddressKeepsAllOfIt() {
        Instruction insn = decode("48a1efcdab8967452301", 64); // MOV RAX, [0x0123456789abcdef]
        assertEquals(Op.MOV_REG_RM, insn.op);
        assertEquals(0x0123456789abcdefL, insn.disp);
        assertEquals(8, insn.opSize);
        assertEquals(10, insn.length);
    }

    @Test
    void mandatoryPrefixAndTwoByteOpcodeAreUnsigned() {
        Instruction insn = decode("f20f10c1", 64); // MOVSD XMM0, XMM1
        assertEquals(0xf2, insn.mandatoryPrefix);
        assertEquals(0x0f10, insn.opcode);
        assertEquals(Instruction.REPNE, insn.rep);
    }

    @Test
    void sixteenByteOperandAndHighRegisters() {
        Instruction cmpxchg16b = decode("490fc70f", 64); // CMPXCHG16B [R15]
        assertEquals(Op.CMPXCHG16B, cmpxchg16b.op);
        assertEquals(16, cmpxchg16b.opSize);
        assertEquals(15, cmpxchg16b.base);

        Instruction load = decode("4f8b7c8c78", 64); // MOV R15, [R12 + R9*4 + 0x78]
        assertEquals(15, load.reg);
        assertEquals(12, load.base);
        assertEquals(9, load.index);
        assertEquals(4, load.scale);
        assertEquals(0x78, load.disp);
        assertEquals(-1, load.rm);
        assertEquals(-1, load.segment);
    }

    @Test
    void enterKeepsItsFullFrameSizeAndLevel() {
        Instruction insn = decode("c8ffffff", 64); // ENTER 0xffff, 0xff
        assertEquals(Op.ENTER, insn.op);
        assertEquals(0xffff, insn.imm);
        assertEquals(0xff, insn.imm2);
    }

    @Test
    void longestInstructionAndFusedCount() {
        Instruction fifteen = decode("6666666666666666666666660f1f00", 64); // 12 x 66: 15 bytes
        assertEquals(15, fifteen.length);
        assertEquals(64, fifteen.codeBits);

        Instruction compare = decode("4839c8", 64); // CMP RAX, RCX
        HotForms.narrow(compare);
        Instruction fused = HotForms.fuse(compare, decode("0f8580000000", 64)); // JNE +0x80
        assertEquals(Op.CMP_JCC, fused.op);
        assertEquals(2, fused.count);
        assertEquals(9, fused.length);
        assertEquals(3, fused.imm2);
        assertEquals(0x80, fused.disp);
    }
}
