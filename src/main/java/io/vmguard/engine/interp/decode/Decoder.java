package io.vmguard.engine.interp.decode;

import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Flags;
import io.vmguard.engine.interp.cpu.GuestFault;

/**
 * Decodes x86 instructions of every mode into {@link Instruction}s: 64-bit mode (REX, RIP-relative
 * operands), and 32- and 16-bit code (real mode, protected mode, compatibility mode), where 40-4F are
 * INC/DEC, segment overrides count, 16-bit ModRM addressing exists and the instructions 64-bit mode
 * dropped (PUSHA, far pointers, segment pushes) are back. Bytes come from a {@link Source}, which
 * fetches through the MMU (so an instruction that straddles an unmapped page faults like on hardware).
 * Encodings the interpreter does not implement decode to {@link Op#INVALID}, which the executor turns
 * into #UD for the guest.
 */
public final class Decoder {
    /** Architectural limit: a longer instruction raises #GP. */
    public static final int MAX_LENGTH = 15;

    public interface Source {
        int byteAt(long address);
    }

    private final Source source;
    private long start;
    private int position;
    /** The default operand/address size of the code being decoded: 16, 32 or 64. */
    private int bits = 64;

    public Decoder(Source source) {
        this.source = source;
    }

    private int next() {
        if (position >= MAX_LENGTH) {
            throw GuestFault.gp();
        }
        return source.byteAt(start + position++);
    }

    private long imm(int size) {
        long value = 0;
        for (int i = 0; i < size; i++) {
            value |= (long) next() << (8 * i);
        }
        return Flags.signExtend(value, size);
    }

    /** Decodes 64-bit-mode code. */
    public Instruction decode(long rip) {
        return decode(rip, 64);
    }

    /**
     * Decodes the instruction at linear address {@code linear} for code whose default size is
     * {@code codeBits} (16, 32 or 64; see {@link CpuState#codeBits}).
     */
    public Instruction decode(long linear, int codeBits) {
        start = linear;
        position = 0;
        bits = codeBits;
        boolean long64 = codeBits == 64;
        Instruction insn = new Instruction();
        insn.codeBits = (byte) codeBits;
        insn.legacy = !long64;
        boolean addressFlip = false;
        int rexW = 0, rexR = 0, rexX = 0, rexB = 0;
        boolean operand16 = false;
        int b;
        // Legacy prefixes and REX. Only a REX immediately before the opcode counts: a legacy prefix after a REX
        // cancels it, and of several REX bytes in a row the last one wins (SDM 2.2.1).
        int rex = 0;
        while (true) {
            b = next();
            if (long64 && (b & 0xf0) == 0x40) {
                rex = b;
                continue;
            }
            boolean prefix = switch (b) {
                case 0x66 -> {
                    operand16 = true;
                    insn.mandatoryPrefix = insn.mandatoryPrefix == 0 ? 0x66 : insn.mandatoryPrefix;
                    yield true;
                }
                case 0x67 -> { addressFlip = true; yield true; }
                case 0xf0 -> { insn.lock = true; yield true; }
                case 0xf2 -> { insn.rep = Instruction.REPNE; insn.mandatoryPrefix = 0xf2; yield true; }
                case 0xf3 -> { insn.rep = Instruction.REP; insn.mandatoryPrefix = 0xf3; yield true; }
                case 0x26 -> { insn.segment = long64 ? insn.segment : CpuState.ES; yield true; } // null in 64-bit mode
                case 0x2e -> { insn.segment = long64 ? insn.segment : CpuState.CS; yield true; }
                case 0x36 -> { insn.segment = long64 ? insn.segment : CpuState.SS; yield true; }
                case 0x3e -> { insn.segment = long64 ? insn.segment : CpuState.DS; yield true; }
                case 0x64 -> { insn.segment = CpuState.FS; yield true; }
                case 0x65 -> { insn.segment = CpuState.GS; yield true; }
                default -> false;
            };
            if (!prefix) {
                break;
            }
            rex = 0;
        }
        if (rex != 0) {
            insn.rex = true;
            rexW = (rex >> 3) & 1;
            rexR = (rex >> 2) & 1;
            rexX = (rex >> 1) & 1;
            rexB = rex & 1;
        }
        int vSize;
        int stackSize;
        if (long64) {
            vSize = rexW != 0 ? 8 : operand16 ? 2 : 4;
            // Near branches, push and pop default to 64-bit operands; 66 gives 16.
            stackSize = operand16 && rexW == 0 ? 2 : 8;
            insn.addrSize = (byte) (addressFlip ? 4 : 8);
        } else {
            int defaultSize = codeBits == 32 ? 4 : 2;
            vSize = operand16 ? 6 - defaultSize : defaultSize; // 66 and 67 swap 16 and 32
            stackSize = vSize;
            insn.addrSize = (byte) (addressFlip ? 6 - defaultSize : defaultSize);
        }
        insn.opSize = (byte) vSize;
        insn.opcode = b;

        if (b == 0x0f) {
            decodeTwoByte(insn, vSize, stackSize, rexW, rexR, rexX, rexB);
        } else {
            decodeOneByte(insn, b, vSize, stackSize, rexW, rexR, rexX, rexB);
        }
        insn.length = (byte) position;
        if (insn.lock && !lockable(insn)) {
            insn.op = Op.INVALID;
        }
        if (insn.legacy && insn.segment < 0) {
            insn.segment = CpuState.DS; // operands without a base (moffs, XLAT, string sources)
        }
        if (insn.op == Op.INVALID || insn.op == Op.UD2) {
            insn.bytes = new byte[position];
            for (int i = 0; i < position; i++) {
                insn.bytes[i] = (byte) source.byteAt(start + i);
            }
        }
        return insn;
    }

    /**
     * SDM (LOCK): the prefix is allowed only on ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B/16B DEC INC NEG NOT
     * OR SBB SUB XOR XADD XCHG with a memory destination; anywhere else it raises #UD.
     */
    private static boolean lockable(Instruction insn) {
        if (!insn.isMemory()) {
            return false;
        }
        return switch (insn.op) {
            case Op.ALU_RM_REG, Op.ALU_RM_IMM -> insn.sub != Alu.CMP;
            case Op.BT_REG, Op.BT_IMM -> insn.sub != 4; // not BT itself
            case Op.INC, Op.DEC, Op.NOT, Op.NEG, Op.XCHG, Op.CMPXCHG, Op.XADD, Op.CMPXCHG16B -> true;
            default -> false;
        };
    }

    /** Reads ModRM (and SIB, displacement) into the instruction; returns ModRM.reg without REX.R. */
    private int modrm(Instruction insn, int rexR, int rexX, int rexB) {
        int modrm = next();
        int mod = modrm >> 6;
        int reg = (modrm >> 3) & 7;
        int rm = modrm & 7;
        insn.reg = (byte) (reg | (rexR << 3));
        if (mod == 3) {
            insn.rm = (byte) (rm | (rexB << 3));
            return reg;
        }
        insn.rm = -1;
        if (insn.addrSize == 2) {
            modrm16(insn, mod, rm);
            return reg;
        }
        if (rm == 4) {
            int sib = next();
            insn.scale = (byte) (1 << (sib >> 6));
            int index = ((sib >> 3) & 7) | (rexX << 3);
            insn.index = (byte) (index == 4 ? -1 : index);
            int base = sib & 7;
            if (base == 5 && mod == 0) {
                insn.base = -1;
                insn.disp = imm(4);
            } else {
                insn.base = (byte) (base | (rexB << 3));
            }
        } else if (rm == 5 && mod == 0) {
            insn.ripRelative = bits == 64; // outside 64-bit mode: an absolute disp32
            insn.disp = imm(4);
        } else {
            insn.base = (byte) (rm | (rexB << 3));
        }
        if (mod == 1) {
            insn.disp = imm(1);
        } else if (mod == 2) {
            insn.disp = imm(4);
        }
        if (insn.legacy && insn.segment < 0) {
            insn.segment = (byte) (insn.base == CpuState.RSP || insn.base == CpuState.RBP ? CpuState.SS : CpuState.DS);
        }
        return reg;
    }

    /** 16-bit addressing: BX/BP plus SI/DI plus disp8/disp16; BP-based forms default to SS. */
    private void modrm16(Instruction insn, int mod, int rm) {
        if (mod == 0 && rm == 6) {
            insn.disp = imm(2) & 0xffff;
        } else {
            insn.base = switch (rm) {
                case 0, 1, 7 -> CpuState.RBX;
                case 2, 3, 6 -> CpuState.RBP;
                default -> -1;
            };
            insn.index = switch (rm) {
                case 0, 2, 4 -> CpuState.RSI;
                case 1, 3, 5 -> CpuState.RDI;
                default -> -1;
            };
            if (insn.base < 0) { // [SI] and [DI] are bases for SS purposes only through BP: keep them as index
                insn.base = insn.index;
                insn.index = -1;
            }
            insn.disp = mod == 1 ? imm(1) : mod == 2 ? imm(2) : 0;
        }
        if (insn.segment < 0) {
            insn.segment = (byte) (insn.base == CpuState.RBP ? CpuState.SS : CpuState.DS);
        }
    }

    private void decodeOneByte(Instruction insn, int b, int vSize, int stackSize, int rexW, int rexR, int rexX, int rexB) {
        if (b < 0x40 && (b & 7) < 6) {
            // 00-3F: ADD OR ADC SBB AND SUB XOR CMP in six forms.
            insn.sub = (byte) (b >> 3);
            switch (b & 7) {
                case 0 -> { insn.op = Op.ALU_RM_REG; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
                case 1 -> { insn.op = Op.ALU_RM_REG; modrm(insn, rexR, rexX, rexB); }
                case 2 -> { insn.op = Op.ALU_REG_RM; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
                case 3 -> { insn.op = Op.ALU_REG_RM; modrm(insn, rexR, rexX, rexB); }
                case 4 -> { insn.op = Op.ALU_RM_IMM; insn.opSize = 1; insn.rm = CpuState.RAX; insn.imm = imm(1); }
                default -> { insn.op = Op.ALU_RM_IMM; insn.rm = CpuState.RAX; insn.imm = imm(Math.min(vSize, 4)); }
            }
            return;
        }
        if (bits != 64 && decodeLegacyOneByte(insn, b, vSize)) {
            return;
        }
        boolean long64 = bits == 64;
        switch (b) {
            case 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57 -> {
                insn.op = Op.PUSH_REG; insn.reg = (byte) ((b & 7) | (rexB << 3)); insn.opSize = (byte) stackSize;
            }
            case 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f -> {
                insn.op = Op.POP_REG; insn.reg = (byte) ((b & 7) | (rexB << 3)); insn.opSize = (byte) stackSize;
            }
            case 0x63 -> { insn.op = Op.MOVSXD; modrm(insn, rexR, rexX, rexB); }
            case 0x68 -> { insn.op = Op.PUSH_IMM; insn.opSize = (byte) stackSize; insn.imm = imm(stackSize == 2 ? 2 : 4); }
            case 0x69 -> { insn.op = Op.IMUL_REG_RM_IMM; modrm(insn, rexR, rexX, rexB); insn.imm = imm(Math.min(vSize, 4)); }
            case 0x6a -> { insn.op = Op.PUSH_IMM; insn.opSize = (byte) stackSize; insn.imm = imm(1); }
            case 0x6b -> { insn.op = Op.IMUL_REG_RM_IMM; modrm(insn, rexR, rexX, rexB); insn.imm = imm(1); }
            case 0x6c -> { insn.op = Op.INS; insn.opSize = 1; }
            case 0x6d -> { insn.op = Op.INS; insn.opSize = (byte) Math.min(vSize, 4); }
            case 0x6e -> { insn.op = Op.OUTS; insn.opSize = 1; }
            case 0x6f -> { insn.op = Op.OUTS; insn.opSize = (byte) Math.min(vSize, 4); }
            case 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
                 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f -> {
                insn.op = Op.JCC; insn.sub = (byte) (b & 0xf); insn.imm = imm(1);
            }
            case 0x80 -> { insn.op = Op.ALU_RM_IMM; insn.opSize = 1; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = imm(1); }
            case 0x82 -> { // the legacy alias of 80; gone in 64-bit mode: #UD
                if (long64) {
                    insn.op = Op.INVALID;
                } else {
                    insn.op = Op.ALU_RM_IMM; insn.opSize = 1; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = imm(1);
                }
            }
            case 0x81 -> { insn.op = Op.ALU_RM_IMM; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = imm(Math.min(vSize, 4)); }
            case 0x83 -> { insn.op = Op.ALU_RM_IMM; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = imm(1); }
            case 0x84 -> { insn.op = Op.TEST_RM_REG; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0x85 -> { insn.op = Op.TEST_RM_REG; modrm(insn, rexR, rexX, rexB); }
            case 0x86 -> { insn.op = Op.XCHG; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0x87 -> { insn.op = Op.XCHG; modrm(insn, rexR, rexX, rexB); }
            case 0x88 -> { insn.op = Op.MOV_RM_REG; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0x89 -> { insn.op = Op.MOV_RM_REG; modrm(insn, rexR, rexX, rexB); }
            case 0x8a -> { insn.op = Op.MOV_REG_RM; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0x8b -> { insn.op = Op.MOV_REG_RM; modrm(insn, rexR, rexX, rexB); }
            case 0x8c -> { insn.op = Op.MOV_FROM_SEG; modrm(insn, rexR, rexX, rexB); insn.reg &= 7; if (!insn.isMemory() && vSize == 2) { insn.opSize = 2; } else if (insn.isMemory()) { insn.opSize = 2; } }
            case 0x8d -> { insn.op = Op.LEA; modrm(insn, rexR, rexX, rexB); if (!insn.isMemory()) { insn.op = Op.INVALID; } }
            case 0x8e -> { insn.op = Op.MOV_TO_SEG; insn.opSize = 2; modrm(insn, rexR, rexX, rexB); insn.reg &= 7; }
            case 0x8f -> { insn.op = (short) (modrm(insn, rexR, rexX, rexB) == 0 ? Op.POP_RM : Op.INVALID); insn.opSize = (byte) stackSize; }
            case 0x90 -> {
                if (rexB != 0) {
                    insn.op = Op.XCHG; insn.reg = 8; insn.rm = CpuState.RAX;
                } else {
                    insn.op = (short) (insn.rep == Instruction.REP ? Op.PAUSE : Op.NOP);
                }
            }
            case 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97 -> { insn.op = Op.XCHG; insn.reg = (byte) ((b & 7) | (rexB << 3)); insn.rm = CpuState.RAX; }
            case 0x98 -> insn.op = Op.CONVERT_A;
            case 0x99 -> insn.op = Op.CONVERT_D;
            case 0x9c -> { insn.op = Op.PUSHF; insn.opSize = (byte) stackSize; }
            case 0x9d -> { insn.op = Op.POPF; insn.opSize = (byte) stackSize; }
            case 0x9b -> insn.op = Op.NOP; // FWAIT: x87 exceptions are not raised asynchronously
            case 0x9e -> insn.op = Op.SAHF;
            case 0x9f -> insn.op = Op.LAHF;
            case 0xa0, 0xa1, 0xa2, 0xa3 -> {
                // MOV with a 64-bit absolute address (moffs): a memory operand with no base or index.
                insn.op = (short) (b < 0xa2 ? Op.MOV_REG_RM : Op.MOV_RM_REG);
                insn.opSize = (byte) ((b & 1) == 0 ? 1 : vSize);
                insn.reg = CpuState.RAX;
                insn.rm = -1;
                insn.disp = imm(insn.addrSize);
                if (insn.addrSize != 8) {
                    insn.disp &= Flags.mask(insn.addrSize);
                }
            }
            case 0xa4 -> { insn.op = Op.MOVS; insn.opSize = 1; }
            case 0xa5 -> { insn.op = Op.MOVS; }
            case 0xa6 -> { insn.op = Op.CMPS; insn.opSize = 1; }
            case 0xa7 -> { insn.op = Op.CMPS; }
            case 0xa8 -> { insn.op = Op.TEST_RM_IMM; insn.opSize = 1; insn.rm = CpuState.RAX; insn.imm = imm(1); }
            case 0xa9 -> { insn.op = Op.TEST_RM_IMM; insn.rm = CpuState.RAX; insn.imm = imm(Math.min(vSize, 4)); }
            case 0xaa -> { insn.op = Op.STOS; insn.opSize = 1; }
            case 0xab -> { insn.op = Op.STOS; }
            case 0xac -> { insn.op = Op.LODS; insn.opSize = 1; }
            case 0xad -> { insn.op = Op.LODS; }
            case 0xae -> { insn.op = Op.SCAS; insn.opSize = 1; }
            case 0xaf -> { insn.op = Op.SCAS; }
            case 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 -> {
                insn.op = Op.MOV_REG_IMM; insn.opSize = 1; insn.reg = (byte) ((b & 7) | (rexB << 3)); insn.imm = imm(1);
            }
            case 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf -> {
                insn.op = Op.MOV_REG_IMM; insn.reg = (byte) ((b & 7) | (rexB << 3)); insn.imm = imm(vSize);
            }
            case 0xc0 -> { insn.op = Op.SHIFT; insn.opSize = 1; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = next(); }
            case 0xc1 -> { insn.op = Op.SHIFT; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = next(); }
            case 0xc2 -> { insn.op = Op.RET; insn.opSize = (byte) stackSize; insn.imm = imm(2) & 0xffff; }
            case 0xc3 -> { insn.op = Op.RET; insn.opSize = (byte) stackSize; insn.imm = 0; }
            case 0xca -> { insn.op = Op.RETF; insn.opSize = (byte) vSize; insn.imm = imm(2) & 0xffff; }
            case 0xcb -> { insn.op = Op.RETF; insn.opSize = (byte) vSize; insn.imm = 0; }
            case 0xc6 -> { insn.op = (short) (modrm(insn, rexR, rexX, rexB) == 0 ? Op.MOV_RM_IMM : Op.INVALID); insn.opSize = 1; insn.imm = imm(1); }
            case 0xc7 -> { insn.op = (short) (modrm(insn, rexR, rexX, rexB) == 0 ? Op.MOV_RM_IMM : Op.INVALID); insn.imm = imm(Math.min(vSize, 4)); }
            case 0xc8 -> { insn.op = Op.ENTER; insn.opSize = (byte) stackSize; insn.imm = imm(2) & 0xffff; insn.imm2 = next(); }
            case 0xc9 -> { insn.op = Op.LEAVE; insn.opSize = (byte) stackSize; }
            case 0xcc -> insn.op = Op.INT3;
            case 0xcd -> { insn.op = Op.INT; insn.imm = next(); }
            case 0xcf -> { insn.op = Op.IRET; insn.opSize = (byte) vSize; }
            case 0xd0 -> { insn.op = Op.SHIFT; insn.opSize = 1; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = 1; }
            case 0xd1 -> { insn.op = Op.SHIFT; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = 1; }
            case 0xd2 -> { insn.op = Op.SHIFT; insn.opSize = 1; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = -1; }
            case 0xd3 -> { insn.op = Op.SHIFT; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); insn.imm = -1; }
            case 0xd7 -> { insn.op = Op.XLAT; insn.opSize = 1; }
            case 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf -> { insn.op = Op.X87; insn.sub = (byte) modrm(insn, rexR, rexX, rexB); }
            case 0xe0, 0xe1, 0xe2 -> { insn.op = Op.LOOP; insn.sub = (byte) (b & 3); insn.imm = imm(1); }
            case 0xe3 -> { insn.op = Op.JRCXZ; insn.imm = imm(1); }
            case 0xe4 -> { insn.op = Op.IN; insn.opSize = 1; insn.imm = next(); }
            case 0xe5 -> { insn.op = Op.IN; insn.opSize = (byte) Math.min(vSize, 4); insn.imm = next(); }
            case 0xe6 -> { insn.op = Op.OUT; insn.opSize = 1; insn.imm = next(); }
            case 0xe7 -> { insn.op = Op.OUT; insn.opSize = (byte) Math.min(vSize, 4); insn.imm = next(); }
            case 0xe8 -> { insn.op = Op.CALL_REL; insn.opSize = (byte) (long64 ? 8 : vSize); insn.imm = imm(long64 ? 4 : vSize); }
            case 0xe9 -> { insn.op = Op.JMP_REL; insn.imm = imm(long64 ? 4 : vSize); }
            case 0xeb -> { insn.op = Op.JMP_REL; insn.imm = imm(1); }
            case 0xec -> { insn.op = Op.IN; insn.opSize = 1; insn.imm = -1; }
            case 0xed -> { insn.op = Op.IN; insn.opSize = (byte) Math.min(vSize, 4); insn.imm = -1; }
            case 0xee -> { insn.op = Op.OUT; insn.opSize = 1; insn.imm = -1; }
            case 0xef -> { insn.op = Op.OUT; insn.opSize = (byte) Math.min(vSize, 4); insn.imm = -1; }
            case 0xf1 -> insn.op = Op.INT1;
            case 0xf4 -> insn.op = Op.HLT;
            case 0xf5 -> insn.op = Op.CMC;
            case 0xf6, 0xf7 -> {
                if (b == 0xf6) {
                    insn.opSize = 1;
                }
                int group = modrm(insn, rexR, rexX, rexB);
                insn.op = switch (group) {
                    case 0, 1 -> Op.TEST_RM_IMM;
                    case 2 -> Op.NOT;
                    case 3 -> Op.NEG;
                    case 4 -> Op.MUL;
                    case 5 -> Op.IMUL1;
                    case 6 -> Op.DIV;
                    default -> Op.IDIV;
                };
                if (group < 2) {
                    insn.imm = imm(Math.min(insn.opSize, 4));
                }
            }
            case 0xf8 -> insn.op = Op.CLC;
            case 0xf9 -> insn.op = Op.STC;
            case 0xfa -> insn.op = Op.CLI;
            case 0xfb -> insn.op = Op.STI;
            case 0xfc -> insn.op = Op.CLD;
            case 0xfd -> insn.op = Op.STD;
            case 0xfe -> {
                insn.opSize = 1;
                int group = modrm(insn, rexR, rexX, rexB);
                insn.op = (short) (group == 0 ? Op.INC : group == 1 ? Op.DEC : Op.INVALID);
            }
            case 0xff -> {
                int group = modrm(insn, rexR, rexX, rexB);
                switch (group) {
                    case 0 -> insn.op = Op.INC;
                    case 1 -> insn.op = Op.DEC;
                    case 2 -> { insn.op = Op.CALL_RM; insn.opSize = (byte) (long64 ? 8 : vSize); }
                    case 4 -> { insn.op = Op.JMP_RM; insn.opSize = (byte) (long64 ? 8 : vSize); }
                    case 3, 5 -> { // far CALL/JMP through an m16:16/32/64 operand
                        insn.op = (short) (!insn.isMemory() ? Op.INVALID : group == 3 ? Op.FAR_CALL : Op.FAR_JMP);
                        insn.sub = 1;
                    }
                    case 6 -> { insn.op = Op.PUSH_RM; insn.opSize = (byte) stackSize; }
                    default -> insn.op = Op.INVALID;
                }
            }
            default -> insn.op = Op.INVALID;
        }
    }

    /**
     * The one-byte opcodes whose meaning outside 64-bit mode differs from (or is missing in) 64-bit mode;
     * false for the rest, which decode as in 64-bit mode with the mode's sizes.
     */
    private boolean decodeLegacyOneByte(Instruction insn, int b, int vSize) {
        switch (b) {
            case 0x06, 0x0e, 0x16, 0x1e -> { insn.op = Op.PUSH_SEG; insn.reg = (byte) (b >> 3); }
            case 0x07, 0x17, 0x1f -> { insn.op = Op.POP_SEG; insn.reg = (byte) (b >> 3); }
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47 -> { insn.op = Op.INC; insn.rm = (byte) (b & 7); }
            case 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f -> { insn.op = Op.DEC; insn.rm = (byte) (b & 7); }
            case 0x60 -> insn.op = Op.PUSHA;
            case 0x61 -> insn.op = Op.POPA;
            case 0x63 -> insn.op = Op.INVALID; // ARPL: not implemented
            case 0x9a, 0xea -> {
                insn.op = (short) (b == 0x9a ? Op.FAR_CALL : Op.FAR_JMP);
                insn.sub = 0;
                insn.imm = imm(vSize) & Flags.mask(vSize);
                insn.imm2 = (int) (imm(2) & 0xffff);
            }
            case 0xc4, 0xc5 -> {
                insn.op = Op.LOAD_FAR_POINTER;
                modrm(insn, 0, 0, 0);
                insn.sub = (byte) (b == 0xc4 ? CpuState.ES : CpuState.DS);
                if (!insn.isMemory()) {
                    insn.op = Op.INVALID;
                }
            }
            case 0xce -> insn.op = Op.INTO;
            default -> {
                return false;
            }
        }
        insn.opSize = (byte) vSize;
        return true;
    }

    private void decodeTwoByte(Instruction insn, int vSize, int stackSize, int rexW, int rexR, int rexX, int rexB) {
        int b = next();
        insn.opcode = 0x0f00 | b;
        switch (b) {
            case 0x00 -> {
                int group = modrm(insn, rexR, rexX, rexB);
                insn.op = (short) (group <= 5 ? Op.GROUP6 : Op.INVALID);
                insn.sub = (byte) group;
                insn.opSize = 2;
            }
            case 0x01 -> decodeGroup7(insn, rexR, rexX, rexB);
            case 0x05 -> insn.op = Op.SYSCALL;
            case 0x34 -> insn.op = Op.SYSENTER;
            case 0x35 -> { insn.op = Op.SYSEXIT; insn.opSize = (byte) (rexW != 0 ? 8 : 4); }
            case 0xb2, 0xb4, 0xb5 -> {
                insn.op = Op.LOAD_FAR_POINTER;
                modrm(insn, rexR, rexX, rexB);
                insn.sub = (byte) (b == 0xb2 ? CpuState.SS : b == 0xb4 ? CpuState.FS : CpuState.GS);
                if (!insn.isMemory()) {
                    insn.op = Op.INVALID;
                }
            }
            case 0x06 -> insn.op = Op.CLTS;
            case 0x07 -> { insn.op = Op.SYSRET; insn.opSize = (byte) (rexW != 0 ? 8 : 4); }
            case 0x08, 0x09 -> insn.op = Op.WBINVD;
            case 0x0b -> insn.op = Op.UD2;
            case 0x0d, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f -> { insn.op = Op.NOP; modrm(insn, rexR, rexX, rexB); }
            case 0x20, 0x21, 0x22, 0x23 -> {
                // MOV to/from control and debug registers: always a register operand, always 64-bit.
                modrm(insn, rexR, rexX, rexB);
                if (insn.isMemory()) {
                    // mod is ignored by these encodings; treat the r/m field as a register.
                    insn.op = Op.INVALID;
                    return;
                }
                insn.opSize = (byte) (bits == 64 ? 8 : 4);
                insn.op = switch (b) {
                    case 0x20 -> Op.MOV_FROM_CR;
                    case 0x21 -> Op.MOV_FROM_DR;
                    case 0x22 -> Op.MOV_TO_CR;
                    default -> Op.MOV_TO_DR;
                };
            }
            case 0x30 -> insn.op = Op.WRMSR;
            case 0x31 -> insn.op = Op.RDTSC;
            case 0x32 -> insn.op = Op.RDMSR;
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f -> {
                insn.op = Op.CMOVCC; insn.sub = (byte) (b & 0xf); modrm(insn, rexR, rexX, rexB);
            }
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
                 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f -> {
                insn.op = Op.JCC; insn.sub = (byte) (b & 0xf); insn.imm = imm(bits == 64 ? 4 : vSize);
            }
            case 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
                 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f -> {
                insn.op = Op.SETCC; insn.sub = (byte) (b & 0xf); insn.opSize = 1; modrm(insn, rexR, rexX, rexB);
            }
            case 0xa0, 0xa8 -> { insn.op = Op.PUSH_SEG; insn.reg = (byte) (b == 0xa0 ? CpuState.FS : CpuState.GS); insn.opSize = (byte) stackSize; }
            case 0xa1, 0xa9 -> { insn.op = Op.POP_SEG; insn.reg = (byte) (b == 0xa1 ? CpuState.FS : CpuState.GS); insn.opSize = (byte) stackSize; }
            case 0xa2 -> insn.op = Op.CPUID;
            case 0xa3 -> { insn.op = Op.BT_REG; insn.sub = 4; modrm(insn, rexR, rexX, rexB); }
            case 0xab -> { insn.op = Op.BT_REG; insn.sub = 5; modrm(insn, rexR, rexX, rexB); }
            case 0xb3 -> { insn.op = Op.BT_REG; insn.sub = 6; modrm(insn, rexR, rexX, rexB); }
            case 0xbb -> { insn.op = Op.BT_REG; insn.sub = 7; modrm(insn, rexR, rexX, rexB); }
            case 0xa4 -> { insn.op = Op.SHLD; modrm(insn, rexR, rexX, rexB); insn.imm = next(); }
            case 0xa5 -> { insn.op = Op.SHLD; modrm(insn, rexR, rexX, rexB); insn.imm = -1; }
            case 0xac -> { insn.op = Op.SHRD; modrm(insn, rexR, rexX, rexB); insn.imm = next(); }
            case 0xad -> { insn.op = Op.SHRD; modrm(insn, rexR, rexX, rexB); insn.imm = -1; }
            case 0xae -> decodeGroup15(insn, rexR, rexX, rexB);
            case 0xaf -> { insn.op = Op.IMUL_REG_RM; modrm(insn, rexR, rexX, rexB); }
            case 0xb0 -> { insn.op = Op.CMPXCHG; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0xb1 -> { insn.op = Op.CMPXCHG; modrm(insn, rexR, rexX, rexB); }
            case 0xb6 -> { insn.op = Op.MOVZX; insn.sub = 1; modrm(insn, rexR, rexX, rexB); }
            case 0xb7 -> { insn.op = Op.MOVZX; insn.sub = 2; modrm(insn, rexR, rexX, rexB); }
            case 0xb8 -> { insn.op = (short) (insn.rep == Instruction.REP ? Op.POPCNT : Op.INVALID); modrm(insn, rexR, rexX, rexB); }
            case 0xba -> {
                int group = modrm(insn, rexR, rexX, rexB);
                insn.op = (short) (group >= 4 ? Op.BT_IMM : Op.INVALID);
                insn.sub = (byte) group;
                insn.imm = next();
            }
            case 0xbc -> { insn.op = (short) (insn.rep == Instruction.REP ? Op.TZCNT : Op.BSF); modrm(insn, rexR, rexX, rexB); }
            case 0xbd -> { insn.op = (short) (insn.rep == Instruction.REP ? Op.LZCNT : Op.BSR); modrm(insn, rexR, rexX, rexB); }
            case 0xbe -> { insn.op = Op.MOVSX; insn.sub = 1; modrm(insn, rexR, rexX, rexB); }
            case 0xbf -> { insn.op = Op.MOVSX; insn.sub = 2; modrm(insn, rexR, rexX, rexB); }
            case 0xc0 -> { insn.op = Op.XADD; insn.opSize = 1; modrm(insn, rexR, rexX, rexB); }
            case 0xc1 -> { insn.op = Op.XADD; modrm(insn, rexR, rexX, rexB); }
            case 0xc7 -> {
                int group = modrm(insn, rexR, rexX, rexB);
                insn.op = (short) (group == 1 && insn.isMemory() ? Op.CMPXCHG16B : Op.INVALID);
                insn.opSize = (byte) (rexW != 0 ? 16 : 8);
            }
            case 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf -> { insn.op = Op.BSWAP; insn.reg = (byte) ((b & 7) | (rexB << 3)); }
            default -> decodeSse(insn, b, rexR, rexX, rexB);
        }
    }

    private void decodeGroup7(Instruction insn, int rexR, int rexX, int rexB) {
        int group = modrm(insn, rexR, rexX, rexB);
        if (insn.isMemory()) {
            insn.sub = (byte) group;
            insn.op = switch (group) {
                case 0, 1, 2, 3, 4, 6 -> Op.GROUP7;
                case 7 -> Op.INVLPG;
                default -> Op.INVALID;
            };
            return;
        }
        int low = insn.rm & 7;
        if (group == 7 && low == 0) {
            insn.op = Op.SWAPGS;
        } else if (group == 7 && low == 1) {
            insn.op = Op.RDTSCP;
        } else if (group == 4 || group == 6) {
            insn.op = Op.GROUP7;
            insn.sub = (byte) group;
        } else {
            insn.op = Op.INVALID;
        }
    }

    private void decodeGroup15(Instruction insn, int rexR, int rexX, int rexB) {
        int group = modrm(insn, rexR, rexX, rexB);
        if (insn.isMemory()) {
            insn.op = switch (group) {
                case 0 -> Op.FXSAVE;
                case 1 -> Op.FXRSTOR;
                case 2 -> Op.LDMXCSR;
                case 3 -> Op.STMXCSR;
                case 7 -> Op.NOP; // CLFLUSH: caches are not modelled
                default -> Op.INVALID;
            };
        } else {
            // LFENCE and SFENCE: a vCPU's own accesses are in order already, and x86 keeps loads and stores in
            // order among themselves. MFENCE also orders stores before later loads, which other vCPUs can see.
            insn.op = (short) (group >= 5 ? Op.NOP : Op.INVALID);
            insn.sub = (byte) (group == 6 ? Op.NOP_MFENCE : 0);
        }
    }

    /** SSE/SSE2 opcodes: operands decoded here, the operation chosen at execution by opcode and prefix. */
    private void decodeSse(Instruction insn, int b, int rexR, int rexX, int rexB) {
        boolean sse = (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f)
                || b == 0xc2 || (b >= 0xc4 && b <= 0xc6) || b == 0xd6 || b == 0xd7 || (b >= 0xd0 && b <= 0xff) || b == 0xc3;
        if (!sse || b == 0xff) {
            insn.op = Op.INVALID;
            return;
        }
        insn.op = Op.SSE;
        if (b == 0x77) {
            return; // EMMS: no ModRM
        }
        modrm(insn, rexR, rexX, rexB);
        if (b == 0x70 || b == 0x71 || b == 0x72 || b == 0x73 || b == 0xc2 || b == 0xc4 || b == 0xc5 || b == 0xc6) {
            insn.imm = next();
        }
    }
}
