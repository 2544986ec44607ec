package io.vmguard.engine.interp.jit;

/**
 * One step of a block as the compiler sees it: a guest instruction (or a fused compare and branch) in a form the
 * emitter turns into bytecode of its own, or {@link Interpret}, which hands the instruction to the interpreter.
 * The interpreter lowers its decoded blocks to steps; nothing here knows how x86 is decoded.
 *
 * <p>Offsets ({@code start}, {@code end}) count bytes from the block's first instruction: RIP at the step is the
 * block's entry RIP plus {@code start}, and after it, when control falls through, plus {@code end}. Registers are
 * numbered as in the encoding (0 RAX .. 15 R15); sizes are 4 or 8 bytes (32-bit results are zero-extended).
 */
public sealed interface Step {
    int start();

    int end();

    /** Guest instructions the step stands for (2 for a fused compare and branch). */
    default int count() {
        return 1;
    }

    /** Whether control leaves the block (or loops) after this step: the last step only. */
    default boolean transfersControl() {
        return false;
    }

    /**
     * Binary ALU operations the emitter does itself; ADC and SBB read CF (through the interpreter's Alu). NEG
     * ({@link Compute} only) is {@code 0 - a}, flags as SUB records them, its {@code b} unused.
     */
    enum AluKind {
        ADD, OR, AND, SUB, XOR, CMP, TEST, ADC, SBB, NEG;

        /** ADC and SBB: they read CF, so the flags before them are live. */
        public boolean readsCarry() {
            return this == ADC || this == SBB;
        }
    }

    /** A memory operand in 64-bit mode: base + index * scale + disp (or RIP-relative), plus an FS or GS base. */
    record Address(int base, int index, int scale, long disp, boolean ripRelative, int addrSize, Segment segment,
                   boolean stack) {}

    /** The segment base added to a 64-bit mode address (NONE: flat). */
    enum Segment { NONE, FS, GS }

    /** {@code dst = dst op src} (or {@code op imm} when {@code src} is -1); CMP and TEST only record flags. */
    record Alu(int start, int end, AluKind kind, int dst, int src, long imm, int size) implements Step {}

    /** NOP (not MFENCE): nothing but the next instruction. */
    record Nop(int start, int end) implements Step {}

    /** {@code dst = src} (or {@code imm} when {@code src} is -1). */
    record Move(int start, int end, int dst, int src, long imm, int size) implements Step {}

    /** {@code dst = effective address} (LEA): no memory access, no fault. */
    record Lea(int start, int end, int dst, Address address, int size) implements Step {}

    /**
     * A shift or rotate (x86 group-2 numbering: ROL ROR RCL RCR SHL SHR SAL SAR) of a register by an immediate count;
     * {@code size} 1 and 2 (low byte or word, merged into the register) through the interpreter's Alu.
     */
    record Shift(int start, int end, int kind, int dst, long amount, int size) implements Step {}

    /**
     * A shift or rotate (group-2 numbering) of register {@code dst} by CL, masked as the CPU masks it: a masked count
     * of 0 changes neither the register (but a 32-bit one is zero-extended) nor the flags.
     */
    record ShiftByCl(int start, int end, int kind, int dst, int size) implements Step {}

    /** NOT of register {@code dst} ({@code size} 4 or 8): no flags. */
    record Not(int start, int end, int dst, int size) implements Step {}

    /** INC ({@code decrement} false) or DEC of register {@code dst}: every arithmetic flag but CF, which stays. */
    record IncDec(int start, int end, int dst, boolean decrement, int size) implements Step {}

    /**
     * An operand of {@link Compute}: guest register {@code reg} shifted right by {@code shift} (8 for AH..BH), the
     * {@code size}-byte value at an address, or an immediate. Values are taken at the step's operand size.
     */
    sealed interface Operand {
        record Register(int reg, int shift) implements Operand {}

        record Memory(Address address) implements Operand {}

        record Immediate(long value) implements Operand {}
    }

    /**
     * {@code a = a op b} at {@code size} bytes (1, 2, 4, 8), flags as the interpreter's Alu records them; CMP and
     * TEST only record flags. At most one operand is memory. A memory {@code a} of a kind that writes is a
     * read-modify-write ({@link #writesMemory}): read with write intent, the flags recorded, then written, as the
     * interpreter does. A 1- or 2-byte register result merges into the register, a 4-byte one zero-extends.
     */
    record Compute(int start, int end, AluKind kind, Operand a, Operand b, int size) implements Step {
        public boolean readsMemory() {
            return a instanceof Operand.Memory || b instanceof Operand.Memory;
        }

        /** Whether the result goes to memory: a memory {@code a} of a kind other than CMP and TEST. */
        public boolean writesMemory() {
            return a instanceof Operand.Memory && kind != AluKind.CMP && kind != AluKind.TEST;
        }
    }

    /**
     * CMOVcc: {@code dst = src} (a register or memory, read whether or not the condition holds) when condition
     * {@code cc} holds on the recorded flags; a 32-bit destination is zero-extended either way.
     */
    record ConditionalMove(int start, int end, int cc, int dst, Operand src, int size) implements Step {}

    /** SETcc: the byte {@code dst} (a byte register, AH..BH as shift 8, or memory) = 1 if condition {@code cc} holds, else 0. */
    record SetCondition(int start, int end, int cc, Operand dst) implements Step {}

    /**
     * {@code dst = [address]} of {@code from} bytes (1, 2, 4), zero- or sign-extended, written at {@code size}
     * (4 or 8): MOVZX, MOVSX, MOVSXD with a memory operand.
     */
    record LoadExtend(int start, int end, int dst, Address address, int from, boolean signed, int size) implements Step {}

    /** PUSH of 64-bit register {@code src} on the flat 64-bit mode stack: RSP changes only once the store is done. */
    record Push(int start, int end, int src) implements Step {}

    /** POP into 64-bit register {@code dst}: RSP changes only once the load is done (POP RSP loads RSP last). */
    record Pop(int start, int end, int dst) implements Step {}

    /**
     * CALL rel32 in 64-bit mode: the target ({@code end + disp}) checked canonical before anything is pushed, the
     * return address pushed, and the block left for the target.
     */
    record Call(int start, int end, long disp) implements Step {
        @Override
        public boolean transfersControl() {
            return true;
        }
    }

    /** RET (imm16 {@code release}) in 64-bit mode: pops RIP (checked canonical), then releases the bytes, and leaves. */
    record Return(int start, int end, int release) implements Step {
        @Override
        public boolean transfersControl() {
            return true;
        }
    }

    /**
     * {@code dst = src >>> shift}, zero- or sign-extended from {@code from} bytes (MOVZX, MOVSX, MOVSXD of a
     * register; {@code shift} 8 reads AH..BH), written at {@code size}.
     */
    record Extend(int start, int end, int dst, int src, int shift, int from, boolean signed, int size) implements Step {}

    /** Two- and three-operand IMUL: {@code dst = a * b} (or {@code a * imm} when {@code b} is -1). */
    record Multiply(int start, int end, int dst, int a, int b, long imm, int size) implements Step {}

    /** {@code dst = [address]}: 8 and 4 bytes, or 1 byte zero-extended ({@code size} 1). */
    record Load(int start, int end, int dst, Address address, int size) implements Step {}

    /** {@code [address] = src >>> shift}: 8, 4, 2 or 1 bytes ({@code shift} 8 stores AH..BH). */
    record Store(int start, int end, int src, int shift, Address address, int size) implements Step {}

    /** {@code [address] = imm} (MOV r/m, imm with a memory operand): its low 8, 4, 2 or 1 bytes. */
    record StoreImmediate(int start, int end, Step.Address address, long imm, int size) implements Step {}

    /**
     * CMP or TEST of {@code a} with {@code b} (or {@code imm} when {@code b} is -1) fused with the Jcc on condition
     * {@code cc}; {@code branchAt} is where the Jcc starts (its RIP should the target fault), {@code disp} its
     * displacement from {@code end}.
     */
    record CompareBranch(int start, int end, boolean test, int cc, int a, int b, long imm, int size, int branchAt,
                         long disp) implements Step {
        @Override
        public int count() {
            return 2;
        }

        @Override
        public boolean transfersControl() {
            return true;
        }
    }

    /** JMP rel ({@code cc} -1) or Jcc rel on the recorded flags, to {@code end + disp}. */
    record Branch(int start, int end, int cc, long disp) implements Step {
        @Override
        public boolean transfersControl() {
            return true;
        }
    }

    /**
     * Where another block of the same region starts ({@code start} from the entry block's start, possibly negative):
     * the steps that follow, up to the next label, are that block's. Branches to it stay inside the method.
     */
    record Label(int start) implements Step {
        @Override
        public int end() {
            return start;
        }

        @Override
        public int count() {
            return 0;
        }
    }

    /** The SSE2 forms the emitter tries natively (see the interpreter's JitSse for when they apply). */
    enum SseKind { MOVE_PACKED, MOVE_SCALAR, LOAD_SCALAR, STORE_SCALAR, XOR_PACKED, ADD, SUB, MUL, DIV, COMPARE, CONVERT }

    /**
     * An SSE instruction done natively when the interpreter's guard allows, else handed to the interpreter as
     * instruction {@code index} of the block: XMM {@code dst} and XMM {@code src} (a general register for CONVERT,
     * from {@code size} bytes), or the m64 at {@code address} (null for register forms). COMPARE compares XMM
     * {@code dst} with the source; STORE_SCALAR stores XMM {@code src}.
     */
    record Sse(int start, int end, SseKind kind, int dst, int src, Address address, int size, int index) implements Step {}

    /**
     * The interpreter runs instruction {@code index} of the block (its class data) exactly as it would in its own
     * loop. {@code last}: the block's final instruction, which may transfer control.
     */
    record Interpret(int start, int end, int index, int count, boolean last) implements Step {
        @Override
        public boolean transfersControl() {
            return last;
        }
    }
}
