package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Decoder;
import io.vmguard.engine.interp.decode.HotForms;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.mmu.Mmu;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * Decodes a {@link Block} from one page of guest RAM. The bytes come straight from the page, which the
 * vCPU has already translated with fetch permission for the block's first instruction; decoding ahead
 * never leaves the page, so it can neither fault nor touch CR2 for an instruction that may never run.
 * An instruction that would run past the page ends the block before it.
 */
final class BlockBuilder {
    /** Decoding ran past the end of the page. */
    private static final class PageEnd extends RuntimeException {
        PageEnd() {
            super(null, null, false, false);
        }
    }

    private static final PageEnd PAGE_END = new PageEnd();

    private MemorySegment page;
    private long pageLinear;
    private final Decoder decoder = new Decoder(this::byteAt);
    private final Instruction[] instructions = new Instruction[Block.MAX_LENGTH];
    private final int[] ends = new int[Block.MAX_LENGTH];

    private int byteAt(long linear) {
        long offset = linear - pageLinear;
        if (offset >= 4096) {
            throw PAGE_END;
        }
        return page.get(ValueLayout.JAVA_BYTE, offset) & 0xff;
    }

    /**
     * The block starting at linear address {@code rip}, whose 4 KiB page of RAM is {@code page}; null when
     * not even the first instruction fits in the page (the caller decodes that one through the MMU).
     * Faults of the first instruction's decoding (#GP for more than 15 bytes) propagate.
     */
    Block build(MemorySegment page, long rip) {
        return build(page, rip, 64);
    }

    /** As {@link #build(MemorySegment, long)}, for code of default size {@code codeBits} (16, 32, 64). */
    Block build(MemorySegment page, long rip, int codeBits) {
        this.page = page;
        this.pageLinear = rip & Mmu.PAGE_MASK;
        int count = 0;
        long address = rip;
        try {
            while (count < Block.MAX_LENGTH) {
                Instruction insn;
                try {
                    insn = decoder.decode(address, codeBits);
                } catch (GuestFault fault) {
                    if (count == 0) {
                        throw fault;
                    }
                    break; // it faults when it is reached, as the first of its own block
                }
                HotForms.narrow(insn);
                address += insn.length;
                instructions[count] = insn;
                ends[count] = (int) (address - rip);
                count++;
                if (endsBlock(insn.op)) {
                    break;
                }
            }
        } catch (PageEnd end) {
            if (count == 0) {
                return null;
            }
        } finally {
            this.page = null;
        }
        if (count >= 2) {
            Instruction fused = HotForms.fuse(instructions[count - 2], instructions[count - 1]);
            if (fused != null) {
                count--;
                instructions[count - 1] = fused;
                ends[count - 1] = ends[count];
            }
        }
        Block block = new Block(Arrays.copyOf(instructions, count), Arrays.copyOf(ends, count));
        Arrays.fill(instructions, null);
        return block;
    }

    /**
     * Instructions after which the next one may not be the one that follows in memory, or after which the
     * vCPU must look at interrupts, exits or the processor mode before going on.
     */
    static boolean endsBlock(int op) {
        return switch (op) {
            // Integer instructions that the executor runs itself; all others (system instructions) end blocks.
            case Op.ALU_RM_REG, Op.ALU_REG_RM, Op.ALU_RM_IMM, Op.TEST_RM_REG, Op.TEST_RM_IMM,
                 Op.MOV_RM_REG, Op.MOV_REG_RM, Op.MOV_RM_IMM, Op.MOV_REG_IMM, Op.MOVZX, Op.MOVSX, Op.MOVSXD,
                 Op.LEA, Op.XCHG, Op.PUSH_REG, Op.POP_REG, Op.PUSH_IMM, Op.PUSH_RM, Op.POP_RM, Op.PUSHF,
                 Op.PUSH_SEG, Op.INC, Op.DEC, Op.NOT, Op.NEG, Op.MUL, Op.IMUL1, Op.DIV, Op.IDIV,
                 Op.IMUL_REG_RM, Op.IMUL_REG_RM_IMM, Op.SHIFT, Op.SHLD, Op.SHRD, Op.BT_REG, Op.BT_IMM,
                 Op.BSF, Op.BSR, Op.TZCNT, Op.LZCNT, Op.POPCNT, Op.BSWAP, Op.CONVERT_A, Op.CONVERT_D,
                 Op.SETCC, Op.CMOVCC, Op.CMPXCHG, Op.XADD, Op.CMPXCHG16B,
                 Op.MOVS, Op.CMPS, Op.STOS, Op.LODS, Op.SCAS,
                 Op.CLC, Op.STC, Op.CMC, Op.CLD, Op.STD, Op.SAHF, Op.LAHF, Op.NOP, Op.PAUSE,
                 Op.LEAVE, Op.ENTER, Op.XLAT, Op.SSE, Op.X87, Op.FXSAVE, Op.FXRSTOR, Op.LDMXCSR, Op.STMXCSR,
                 Op.ALU_RR64, Op.ALU_RR32, Op.ALU_RI64, Op.ALU_RI32, Op.MOV_RR64, Op.MOV_RR32,
                 Op.LOAD64, Op.LOAD32, Op.STORE64, Op.STORE32, Op.LOAD8_ZX, Op.SHIFT_RI,
                 Op.PUSH64, Op.POP64, Op.LEA64, Op.LEA32, Op.MOV_RI64, Op.MOV_RI32, Op.STORE_IMM64, Op.STORE_IMM32 -> false;
            // CMP_JCC and TEST_JCC are made from a block's last two instructions, and end it as the Jcc did.
            default -> true;
        };
    }
}
