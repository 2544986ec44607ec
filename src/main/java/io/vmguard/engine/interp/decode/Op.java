package io.vmguard.engine.interp.decode;

/** The interpreter's instruction handlers; the decoder picks one, the executor switches on it. */
public final class Op {
    private Op() {}

    public static final int INVALID = 0;
    // Integer ALU: sub = ADD, OR, ADC, SBB, AND, SUB, XOR, CMP
    public static final int ALU_RM_REG = 1, ALU_REG_RM = 2, ALU_RM_IMM = 3;
    public static final int TEST_RM_REG = 4, TEST_RM_IMM = 5;
    public static final int MOV_RM_REG = 6, MOV_REG_RM = 7, MOV_RM_IMM = 8, MOV_REG_IMM = 9;
    public static final int MOVZX = 10, MOVSX = 11, MOVSXD = 12, LEA = 13, XCHG = 14;
    public static final int PUSH_REG = 15, POP_REG = 16, PUSH_IMM = 17, PUSH_RM = 18, POP_RM = 19;
    public static final int PUSHF = 20, POPF = 21, PUSH_SEG = 22, POP_SEG = 23;
    public static final int INC = 24, DEC = 25, NOT = 26, NEG = 27;
    public static final int MUL = 28, IMUL1 = 29, DIV = 30, IDIV = 31, IMUL_REG_RM = 32, IMUL_REG_RM_IMM = 33;
    // Shifts and rotates: sub = ROL, ROR, RCL, RCR, SHL, SHR, SAL, SAR; count in imm (-1: CL)
    public static final int SHIFT = 34, SHLD = 35, SHRD = 36;
    // Bit tests: sub = 4 BT, 5 BTS, 6 BTR, 7 BTC (as in group 8)
    public static final int BT_REG = 37, BT_IMM = 38, BSF = 39, BSR = 40, TZCNT = 41, LZCNT = 42, POPCNT = 43, BSWAP = 44;
    public static final int CONVERT_A = 45, CONVERT_D = 46;
    public static final int JCC = 47, JMP_REL = 48, CALL_REL = 49, RET = 50, JMP_RM = 51, CALL_RM = 52;
    public static final int LOOP = 53, JRCXZ = 54, SETCC = 55, CMOVCC = 56;
    public static final int CMPXCHG = 57, XADD = 58, CMPXCHG16B = 59;
    // String instructions: opSize is the element size
    public static final int MOVS = 60, CMPS = 61, STOS = 62, LODS = 63, SCAS = 64, INS = 65, OUTS = 66;
    public static final int IN = 67, OUT = 68;
    public static final int CLC = 69, STC = 70, CMC = 71, CLD = 72, STD = 73, CLI = 74, STI = 75, SAHF = 76, LAHF = 77;
    /** {@link #NOP}'s {@code sub} for MFENCE: a full fence between vCPUs. */
    public static final int NOP_MFENCE = 1;
    public static final int HLT = 78, NOP = 79, PAUSE = 80, INT3 = 81, INT = 82, IRET = 83, SYSCALL = 84, SYSRET = 85;
    public static final int CPUID = 86, RDTSC = 87, RDTSCP = 88, RDMSR = 89, WRMSR = 90;
    public static final int MOV_FROM_CR = 91, MOV_TO_CR = 92, MOV_FROM_DR = 93, MOV_TO_DR = 94;
    // Descriptor tables: sub = 0 SGDT, 1 SIDT, 2 LGDT, 3 LIDT, 4 SMSW, 6 LMSW (group 7 reg field)
    public static final int GROUP7 = 95;
    // sub = 0 SLDT, 1 STR, 2 LLDT, 3 LTR (group 6 reg field)
    public static final int GROUP6 = 96;
    public static final int INVLPG = 97, SWAPGS = 98, CLTS = 99, UD2 = 100, MOV_FROM_SEG = 101, MOV_TO_SEG = 102;
    public static final int LEAVE = 103, ENTER = 104, XLAT = 105;
    public static final int FXSAVE = 106, FXRSTOR = 107, LDMXCSR = 108, STMXCSR = 109;
    /** SSE/SSE2 instruction: opcode and mandatory prefix select the operation. */
    public static final int SSE = 110;
    /** x87 instruction: opcode (D8-DF) and ModRM select it. */
    public static final int X87 = 111;
    public static final int WBINVD = 112;
    /** Far return (RETF/LRET): opSize is the size of each popped item; imm the bytes to release. */
    public static final int RETF = 113;
    /** INT1 (ICEBP, F1): #DB as a trap, without the gate privilege check of INT n. */
    public static final int INT1 = 114;

    // Outside 64-bit mode (and the far transfers in every mode).
    /** PUSHA/PUSHAD and POPA/POPAD: opSize is the size of each register. */
    public static final int PUSHA = 115, POPA = 116;
    /** Far JMP/CALL: sub 0 is ptr16:16/32 (imm offset, imm2 selector), sub 1 an m16:16/32/64 operand. */
    public static final int FAR_JMP = 117, FAR_CALL = 118;
    /** LES, LDS, LSS, LFS, LGS: sub is the segment register loaded with the selector after the offset. */
    public static final int LOAD_FAR_POINTER = 119;
    public static final int INTO = 134, SYSENTER = 135, SYSEXIT = 136;

    // Hot forms: common instructions narrowed by HotForms to one operand kind and size, so the executor
    // runs them without the generic operand paths. Register operands: destination rm, source reg.
    /** ALU (sub as for ALU_RM_REG) register, register; 64 and 32 bits. */
    public static final int ALU_RR64 = 120, ALU_RR32 = 121;
    /** ALU register, immediate. */
    public static final int ALU_RI64 = 122, ALU_RI32 = 123;
    /** MOV register, register. */
    public static final int MOV_RR64 = 124, MOV_RR32 = 125;
    /** MOV reg, [memory] and MOV [memory], reg. */
    public static final int LOAD64 = 126, LOAD32 = 127, STORE64 = 128, STORE32 = 129;
    /** MOVZX of a memory byte into a 32- or 64-bit register. */
    public static final int LOAD8_ZX = 130;
    /** SHL/SHR/SAR (sub as for SHIFT) of a register by an immediate count. */
    public static final int SHIFT_RI = 131;
    /**
     * CMP or TEST of a register with a register (reg) or an immediate (imm; reg -1), fused with the Jcc after
     * it: sub is the condition, disp the branch displacement, imm2 the compare's length (where the Jcc is).
     */
    public static final int CMP_JCC = 132, TEST_JCC = 133;
    // More hot forms, numbered after the system ops above so that the executor's switch over them stays one
    // dense range. All but LEA and MOV_RI are 64-bit mode only: a flat stack of 8-byte slots, canonical targets.
    /** PUSH and POP of a 64-bit register. */
    public static final int PUSH64 = 137, POP64 = 138;
    /** LEA into a 64- or 32-bit register (any mode: the address size is the instruction's own). */
    public static final int LEA64 = 139, LEA32 = 140;
    /** Near CALL rel32 and RET (imm: the bytes to release) with 8-byte return addresses. */
    public static final int CALL64 = 141, RET64 = 142;
    /** Jcc that did not fuse with a compare (it reads the recorded flags), and JMP rel. */
    public static final int JCC64 = 143, JMP64 = 144;
    /** MOV of an immediate into a 64- or 32-bit register (reg), and into memory. */
    public static final int MOV_RI64 = 145, MOV_RI32 = 146, STORE_IMM64 = 147, STORE_IMM32 = 148;
}
