package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.Alu;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.jit.JitCompiler;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.engine.interp.jit.Step;
import java.lang.invoke.MethodHandles;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The interpreter's side of the JIT: counts block executions, lowers a hot block's decoded instructions to the
 * compiler's {@link Step}s and hands it over, and installs the result on the block. One per VM, shared by its
 * vCPUs, as the code cache is: a block compiled on behalf of one vCPU runs on all of them.
 *
 * <p>A translation lives on its {@link Block}, so everything that drops decoded code (a guest or device write to
 * the page, a snapshot restore, code executions armed for monitoring) drops the translation with it, on every
 * vCPU, and code-execution monitoring sees the same fetches it sees without the JIT.
 */
final class JitBridge implements AutoCloseable {
    static final byte COLD = 0, QUEUED = 1, NEVER = 2;

    private final JitCompiler compiler;
    private final int threshold;
    private final boolean regions;

    JitBridge(JitOptions options) {
        this.compiler = new JitCompiler(MethodHandles.lookup(), options);
        this.threshold = options.threshold();
        this.regions = options.regions();
    }

    JitCompiler compiler() {
        return compiler;
    }

    /**
     * Counts one execution of an interpreted block and queues it for compilation once it is hot. With threshold 0
     * (tests) it compiles the block at once on the calling thread and returns it, so that even code that runs once
     * runs compiled; otherwise null (the translation arrives later).
     */
    CompiledBlock executed(Block block, CodeCache code, long physical) {
        if (block.jitState != COLD || ++block.hits < threshold) {
            return null;
        }
        block.jitState = QUEUED;
        if (threshold == 0) {
            compiler.compileNow(new Unit(block, code, regions ? physical : -1));
            return block.compiled;
        }
        if (!compiler.submit(new Unit(block, code, regions ? physical : -1))) {
            block.hits = 0; // the queue is full: offered again once it is hot again
            block.jitState = COLD;
        }
        return null;
    }

    /**
     * Blocks and instructions a region may join (one method, well under HotSpot's size limit; a larger one is compiled
     * as its entry block alone). 16 and 192 since 2026-12-05 (session 12): with 8 and 96 a sort's inner loop and the
     * outer loop around it did not fit one region, and bench-cpu's sort phase hopped 12 M times between lone blocks
     * through the vCPU's loop; now 0.2 M hops in the whole run (docs/benchmarks.md#session12-jit4).
     */
    static final int REGION_BLOCKS = 16, REGION_INSTRUCTIONS = 192;

    /**
     * One block on its way through the compiler, with the blocks of its region: those of the same page (and code
     * cache page, so decoded from the same bytes) that its direct exits reach, transitively, already decoded, and
     * that lead back to it (the loops through it).
     */
    private static final class Unit implements JitCompiler.Unit {
        private final Block block;
        private final CodeCache code;
        private final long physical;
        private List<Block> members;
        private List<Integer> offsets;

        Unit(Block block, CodeCache code, long physical) {
            this.block = block;
            this.code = code;
            this.physical = physical;
        }

        @Override
        public List<Step> steps() {
            if (members == null) {
                gather();
            }
            List<Step> steps = new ArrayList<>();
            int index = 0;
            for (int m = 0; m < members.size(); m++) {
                if (m > 0) {
                    steps.add(new Step.Label(offsets.get(m)));
                }
                steps.addAll(lower(members.get(m), offsets.get(m), index));
                index += members.get(m).instructions.length;
            }
            return steps;
        }

        @Override
        public List<?> classData() {
            List<Instruction> data = new ArrayList<>();
            for (Block member : members) {
                data.addAll(Arrays.asList(member.instructions));
            }
            return data;
        }

        @Override
        public int blocks() {
            return members == null ? 1 : members.size();
        }

        @Override
        public boolean shrink() {
            if (members.size() == 1) {
                return false;
            }
            members = List.of(block);
            offsets = List.of(0);
            return true;
        }

        /** The region: the entry block first, then what its direct exits reach, breadth first, within the limits. */
        private void gather() {
            members = new ArrayList<>(List.of(block));
            offsets = new ArrayList<>(List.of(0));
            Block[] page = physical >= 0 && block.codeBits == 64 ? code.pageOf(physical) : null;
            if (page == null || page[(int) (physical & 0xfff)] != block) {
                return; // not cached (or dropped meanwhile): the block alone
            }
            int entry = (int) (physical & 0xfff);
            int instructions = block.instructions.length;
            for (int m = 0; m < members.size() && members.size() < REGION_BLOCKS; m++) {
                for (int target : directExits(members.get(m))) {
                    int at = offsets.get(m) + target + entry;
                    if (at < 0 || at >= 4096 || offsets.contains(at - entry)) {
                        continue;
                    }
                    Block next = page[at];
                    if (next == null || next.codeBits != 64 || members.size() >= REGION_BLOCKS
                            || instructions + next.instructions.length > REGION_INSTRUCTIONS) {
                        continue;
                    }
                    members.add(next);
                    offsets.add(at - entry);
                    instructions += next.instructions.length;
                }
            }
            keepLoops();
        }

        /**
         * Keeps the blocks from which the entry block can be reached again inside the region: the loops through it.
         * The others are where the code leaves the loop (colder, and compile time on a machine with few cores);
         * chaining takes the code there.
         */
        private void keepLoops() {
            int n = members.size();
            boolean[] keep = new boolean[n];
            keep[0] = true;
            List<List<Integer>> exits = new ArrayList<>(n);
            for (int m = 0; m < n; m++) {
                List<Integer> targets = new ArrayList<>();
                for (int target : directExits(members.get(m))) {
                    int index = offsets.indexOf(offsets.get(m) + target);
                    if (index >= 0) {
                        targets.add(index);
                    }
                }
                exits.add(targets);
            }
            for (boolean grew = true; grew; ) {
                grew = false;
                for (int m = 1; m < n; m++) {
                    if (!keep[m] && exits.get(m).stream().anyMatch(t -> keep[t])) {
                        keep[m] = grew = true;
                    }
                }
            }
            List<Block> keptMembers = new ArrayList<>();
            List<Integer> keptOffsets = new ArrayList<>();
            boolean loop = false;
            for (int m = 0; m < n; m++) {
                if (keep[m]) {
                    keptMembers.add(members.get(m));
                    keptOffsets.add(offsets.get(m));
                }
            }
            for (int m = 0; m < n; m++) {
                loop |= keep[m] && exits.get(m).contains(0);
            }
            members = loop ? keptMembers : new ArrayList<>(List.of(block));
            offsets = loop ? keptOffsets : new ArrayList<>(List.of(0));
        }

        @Override
        public void install(Object compiled) {
            block.compiled = (CompiledBlock) compiled;
        }

        @Override
        public void evict(boolean forGood) {
            block.compiled = null;
            block.hits = 0;
            block.jitState = forGood ? NEVER : COLD;
        }
    }

    /** The block's instructions as steps: the forms the emitter does itself, the interpreter for the rest. */
    static List<Step> lower(Block block) {
        return lower(block, 0, 0);
    }

    /**
     * The same, for a block starting {@code base} bytes from its region's entry whose instructions are the class
     * data's from {@code index} on.
     */
    static List<Step> lower(Block block, int base, int index) {
        Instruction[] instructions = block.instructions;
        List<Step> steps = new ArrayList<>(instructions.length);
        for (int i = 0; i < instructions.length; i++) {
            int start = base + (i == 0 ? 0 : block.ends[i - 1]);
            int end = base + block.ends[i];
            Step step = emittedForm(instructions[i], start, end, index + i);
            steps.add(step != null ? step
                    : new Step.Interpret(start, end, index + i, instructions[i].count, i == instructions.length - 1));
        }
        return steps;
    }

    /** Where a block's end may go, as offsets from its start, when the code says so: a direct branch, the next byte. */
    static List<Integer> directExits(Block block) {
        List<Step> steps = lower(block);
        Step last = steps.getLast();
        List<Integer> exits = new ArrayList<>(2);
        switch (last) {
            case Step.Branch b -> {
                if (b.end() + b.disp() == (int) (b.end() + b.disp())) {
                    exits.add((int) (b.end() + b.disp()));
                }
                if (b.cc() >= 0) {
                    exits.add(b.end());
                }
            }
            case Step.CompareBranch b -> {
                if (b.end() + b.disp() == (int) (b.end() + b.disp())) {
                    exits.add((int) (b.end() + b.disp()));
                }
                exits.add(b.end());
            }
            default -> {
                if (!last.transfersControl()) {
                    exits.add(last.end());
                }
            }
        }
        return exits;
    }

    /** The instruction as a step of its own, or null when the interpreter must run it. */
    private static Step emittedForm(Instruction insn, int start, int end, int index) {
        if (insn.lock) {
            return null;
        }
        int size = insn.opSize;
        return switch (insn.op) {
            case Op.ALU_RR64, Op.ALU_RR32 -> alu(insn, start, end, insn.reg);
            case Op.ALU_RI64, Op.ALU_RI32 -> alu(insn, start, end, -1);
            case Op.TEST_RM_REG -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Alu(start, end, Step.AluKind.TEST, insn.rm, insn.reg, 0, size)
                    : compute(insn, start, end, Step.AluKind.TEST, rmOperand(insn), registerOperand(insn, insn.reg));
            case Op.TEST_RM_IMM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Alu(start, end, Step.AluKind.TEST, insn.rm, -1, insn.imm, size)
                    : compute(insn, start, end, Step.AluKind.TEST, rmOperand(insn), new Step.Operand.Immediate(insn.imm));
            case Op.ALU_RM_IMM -> compute(insn, start, end, aluKind(insn.sub), rmOperand(insn), new Step.Operand.Immediate(insn.imm));
            case Op.ALU_RM_REG -> compute(insn, start, end, aluKind(insn.sub), rmOperand(insn), registerOperand(insn, insn.reg));
            case Op.ALU_REG_RM -> compute(insn, start, end, aluKind(insn.sub), registerOperand(insn, insn.reg), rmOperand(insn));
            case Op.NEG -> compute(insn, start, end, Step.AluKind.NEG, rmOperand(insn), new Step.Operand.Immediate(0));
            case Op.NOT -> !insn.isMemory() && (size == 8 || size == 4) ? new Step.Not(start, end, insn.rm, size) : null;
            case Op.INC, Op.DEC -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.IncDec(start, end, insn.rm, insn.op == Op.DEC, size) : null;
            case Op.PUSH_REG, Op.PUSH64 -> !insn.legacy && size == 8 ? new Step.Push(start, end, insn.reg) : null;
            case Op.POP_REG, Op.POP64 -> !insn.legacy && size == 8 ? new Step.Pop(start, end, insn.reg) : null;
            case Op.CALL_REL, Op.CALL64 -> insn.legacy ? null : new Step.Call(start, end, insn.imm);
            case Op.RET, Op.RET64 -> !insn.legacy && size == 8 && insn.imm == (insn.imm & 0xffff)
                    ? new Step.Return(start, end, (int) insn.imm) : null;
            case Op.NOP -> insn.sub == Op.NOP_MFENCE ? null : new Step.Nop(start, end);
            case Op.MOV_RR64, Op.MOV_RR32 -> new Step.Move(start, end, insn.rm, insn.reg, 0, size);
            case Op.MOV_REG_IMM, Op.MOV_RI64, Op.MOV_RI32 -> size == 8 || size == 4 ? new Step.Move(start, end, insn.reg, -1, insn.imm, size) : null;
            case Op.LEA, Op.LEA64, Op.LEA32 -> size == 8 || size == 4 ? new Step.Lea(start, end, insn.reg, address(insn), size) : null;
            case Op.SHIFT_RI -> new Step.Shift(start, end, insn.sub, insn.rm, insn.imm, size);
            case Op.SHIFT -> insn.isMemory() ? null
                    : size == 8 || size == 4 ? insn.imm >= 0 ? new Step.Shift(start, end, insn.sub, insn.rm, insn.imm, size)
                            : new Step.ShiftByCl(start, end, insn.sub, insn.rm, size)
                    // bytes and words by a constant; not AH..BH
                    : insn.imm >= 0 && (size == 2 || byteShift(insn, insn.rm) == 0)
                            ? new Step.Shift(start, end, insn.sub, insn.rm, insn.imm, size) : null;
            case Op.CMOVCC -> (size != 8 && size != 4) || insn.isMemory() && insn.legacy ? null
                    : new Step.ConditionalMove(start, end, insn.sub, insn.reg, rmOperand(insn), size);
            case Op.SETCC -> insn.isMemory() && insn.legacy ? null : new Step.SetCondition(start, end, insn.sub, rmOperand(insn));
            case Op.MOVZX, Op.MOVSX -> size != 8 && size != 4 ? null
                    : !insn.isMemory() ? extend(insn, start, end, insn.sub, insn.op == Op.MOVSX)
                    : insn.legacy ? null : new Step.LoadExtend(start, end, insn.reg, address(insn), insn.sub, insn.op == Op.MOVSX, size);
            case Op.MOVSXD -> size != 8 ? null : !insn.isMemory() ? extend(insn, start, end, 4, true)
                    : insn.legacy ? null : new Step.LoadExtend(start, end, insn.reg, address(insn), 4, true, 8);
            case Op.IMUL_REG_RM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Multiply(start, end, insn.reg, insn.reg, insn.rm, 0, size) : null;
            case Op.IMUL_REG_RM_IMM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Multiply(start, end, insn.reg, insn.rm, -1, insn.imm, size) : null;
            case Op.MOV_RM_REG -> insn.legacy || !insn.isMemory() ? null
                    : size == 1 ? new Step.Store(start, end, byteRegister(insn, insn.reg), byteShift(insn, insn.reg), address(insn), 1)
                    : size == 2 ? new Step.Store(start, end, insn.reg, 0, address(insn), 2) : null;
            case Op.CONVERT_A -> size == 8 || size == 4 // CDQE, CWDE: RAX from its own low half, sign-extended
                    ? new Step.Extend(start, end, CpuState.RAX, CpuState.RAX, 0, size / 2, true, size) : null;
            case Op.MOV_RM_IMM, Op.STORE_IMM64, Op.STORE_IMM32 -> !insn.isMemory() ? size == 8 || size == 4 ? new Step.Move(start, end, insn.rm, -1, insn.imm, size) : null
                    : insn.legacy ? null : new Step.StoreImmediate(start, end, address(insn), insn.imm, size);
            case Op.LOAD64, Op.LOAD32 -> insn.legacy ? null : new Step.Load(start, end, insn.reg, address(insn), size);
            case Op.LOAD8_ZX -> insn.legacy ? null : new Step.Load(start, end, insn.reg, address(insn), 1);
            case Op.STORE64, Op.STORE32 -> insn.legacy ? null : new Step.Store(start, end, insn.reg, 0, address(insn), size);
            case Op.CMP_JCC, Op.TEST_JCC -> new Step.CompareBranch(start, end, insn.op == Op.TEST_JCC, insn.sub, insn.rm,
                    insn.reg, insn.imm, size, start + insn.imm2, insn.disp);
            case Op.JCC, Op.JCC64 -> insn.legacy ? null : new Step.Branch(start, end, insn.sub, insn.imm);
            case Op.JMP_REL, Op.JMP64 -> insn.legacy ? null : new Step.Branch(start, end, -1, insn.imm);
            case Op.SSE -> sse(insn, start, end, index);
            default -> null;
        };
    }

    /** The SSE2 scalar-double forms bench-cpu-like code runs most (JitSse decides at run time), or null. */
    private static Step sse(Instruction insn, int start, int end, int index) {
        boolean memory = insn.isMemory();
        if (memory && insn.legacy) {
            return null;
        }
        int reg = insn.reg & 15;
        int rm = insn.rm & 15;
        Step.Address address = memory ? address(insn) : null;
        int prefix = insn.mandatoryPrefix;
        Step.SseKind kind = switch (insn.opcode & 0xff) {
            case 0x28 -> (prefix == 0 || prefix == 0x66) && !memory ? Step.SseKind.MOVE_PACKED : null;
            case 0x10 -> prefix != 0xf2 ? null : memory ? Step.SseKind.LOAD_SCALAR : Step.SseKind.MOVE_SCALAR;
            case 0x11 -> prefix != 0xf2 ? null : memory ? Step.SseKind.STORE_SCALAR : Step.SseKind.MOVE_SCALAR;
            case 0x57 -> (prefix == 0 || prefix == 0x66) && !memory ? Step.SseKind.XOR_PACKED : null;
            case 0xef -> prefix == 0x66 && !memory ? Step.SseKind.XOR_PACKED : null;
            case 0x58 -> prefix == 0xf2 ? Step.SseKind.ADD : null;
            case 0x5c -> prefix == 0xf2 ? Step.SseKind.SUB : null;
            case 0x59 -> prefix == 0xf2 ? Step.SseKind.MUL : null;
            case 0x5e -> prefix == 0xf2 ? Step.SseKind.DIV : null;
            case 0x2e, 0x2f -> prefix == 0x66 ? Step.SseKind.COMPARE : null;
            case 0x2a -> prefix == 0xf2 && !memory ? Step.SseKind.CONVERT : null;
            default -> null;
        };
        if (kind == null) {
            return null;
        }
        return switch (kind) {
            // MOVSD xmm2/m64, xmm1 (0F 11): the r/m operand is the destination
            case MOVE_SCALAR -> (insn.opcode & 0xff) == 0x11
                    ? new Step.Sse(start, end, kind, rm, reg, null, 8, index)
                    : new Step.Sse(start, end, kind, reg, rm, null, 8, index);
            case STORE_SCALAR -> new Step.Sse(start, end, kind, -1, reg, address, 8, index);
            case CONVERT -> new Step.Sse(start, end, kind, reg, insn.rm, null, insn.opSize == 8 ? 8 : 4, index);
            default -> new Step.Sse(start, end, kind, reg, memory ? -1 : rm, address, 8, index);
        };
    }

    /** A byte register operand: without REX, 4..7 are AH, CH, DH, BH (bits 8-15 of registers 0..3). */
    private static int byteRegister(Instruction insn, int reg) {
        return !insn.rex && reg >= 4 && reg < 8 ? reg - 4 : reg;
    }

    private static int byteShift(Instruction insn, int reg) {
        return !insn.rex && reg >= 4 && reg < 8 ? 8 : 0;
    }

    private static Step extend(Instruction insn, int start, int end, int from, boolean signed) {
        int src = from == 1 ? byteRegister(insn, insn.rm) : insn.rm;
        int shift = from == 1 ? byteShift(insn, insn.rm) : 0;
        return new Step.Extend(start, end, insn.reg, src, shift, from, signed, insn.opSize);
    }

    private static Step alu(Instruction insn, int start, int end, int source) {
        Step.AluKind kind = aluKind(insn.sub);
        return kind == null ? null : new Step.Alu(start, end, kind, insn.rm, source, insn.imm, insn.opSize);
    }

    /** The emitter's ALU kind for the interpreter's. */
    private static Step.AluKind aluKind(int sub) {
        return switch (sub) {
            case Alu.ADD -> Step.AluKind.ADD;
            case Alu.OR -> Step.AluKind.OR;
            case Alu.AND -> Step.AluKind.AND;
            case Alu.SUB -> Step.AluKind.SUB;
            case Alu.XOR -> Step.AluKind.XOR;
            case Alu.CMP -> Step.AluKind.CMP;
            case Alu.ADC -> Step.AluKind.ADC;
            case Alu.SBB -> Step.AluKind.SBB;
            default -> null;
        };
    }

    /**
     * An ALU form (or NEG) with byte, word, or memory operands, a memory one only in 64-bit mode; a memory
     * destination is a read-modify-write (never LOCK-prefixed here: those stay the interpreter's).
     */
    private static Step compute(Instruction insn, int start, int end, Step.AluKind kind, Step.Operand a, Step.Operand b) {
        if (kind == null || insn.isMemory() && insn.legacy) {
            return null;
        }
        return new Step.Compute(start, end, kind, a, b, insn.opSize);
    }

    /** The r/m operand: a register (AH..BH for bytes without REX) or the memory operand. */
    private static Step.Operand rmOperand(Instruction insn) {
        return insn.isMemory() ? new Step.Operand.Memory(address(insn)) : registerOperand(insn, insn.rm);
    }

    private static Step.Operand registerOperand(Instruction insn, int reg) {
        return insn.opSize == 1 ? new Step.Operand.Register(byteRegister(insn, reg), byteShift(insn, reg))
                : new Step.Operand.Register(reg, 0);
    }

    /** A memory operand as the executor's address64 forms it (RSP/RBP bases are stack accesses: #SS). */
    private static Step.Address address(Instruction insn) {
        boolean stack = insn.addrSize != 4 && (insn.base == CpuState.RSP || insn.base == CpuState.RBP)
                && insn.segment < 0 && !insn.ripRelative;
        Step.Segment segment = insn.legacy ? Step.Segment.NONE
                : insn.segment == CpuState.FS ? Step.Segment.FS : insn.segment == CpuState.GS ? Step.Segment.GS : Step.Segment.NONE;
        return new Step.Address(insn.base, insn.index, insn.scale, insn.disp, insn.ripRelative, insn.addrSize, segment, stack);
    }

    @Override
    public void close() {
        compiler.close();
    }
}
