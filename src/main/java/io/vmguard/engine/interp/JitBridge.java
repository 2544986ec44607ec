package io.vmguard.engine.interp;

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

    JitBridge(JitOptions options) {
        this.compiler = new JitCompiler(MethodHandles.lookup(), options);
        this.threshold = options.threshold();
    }

    JitCompiler compiler() {
        return compiler;
    }

    /**
     * Counts one execution of an interpreted block and queues it for compilation once it is hot. With threshold 0
     * (tests) it compiles the block at once on the calling thread and returns it, so that even code that runs once
     * runs compiled; otherwise null (the translation arrives later).
     */
    CompiledBlock executed(Block block) {
        if (block.jitState != COLD || ++block.hits < threshold) {
            return null;
        }
        block.jitState = QUEUED;
        if (threshold == 0) {
            compiler.compileNow(new Unit(block));
            return block.compiled;
        }
        if (!compiler.submit(new Unit(block))) {
            block.hits = 0; // the queue is full: offered again once it is hot again
            block.jitState = COLD;
        }
        return null;
    }

    /** One block on its way through the compiler. */
    private record Unit(Block block) implements JitCompiler.Unit {
        @Override
        public List<Step> steps() {
            return lower(block);
        }

        @Override
        public List<?> classData() {
            return Arrays.asList(block.instructions);
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
        Instruction[] instructions = block.instructions;
        List<Step> steps = new ArrayList<>(instructions.length);
        for (int i = 0; i < instructions.length; i++) {
            int start = i == 0 ? 0 : block.ends[i - 1];
            int end = block.ends[i];
            Step step = emittedForm(instructions[i], start, end, i);
            steps.add(step != null ? step
                    : new Step.Interpret(start, end, i, instructions[i].count, i == instructions.length - 1));
        }
        return steps;
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
                    ? new Step.Alu(start, end, Step.AluKind.TEST, insn.rm, insn.reg, 0, size) : null;
            case Op.TEST_RM_IMM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Alu(start, end, Step.AluKind.TEST, insn.rm, -1, insn.imm, size) : null;
            case Op.NOP -> insn.sub == Op.NOP_MFENCE ? null : new Step.Nop(start, end);
            case Op.MOV_RR64, Op.MOV_RR32 -> new Step.Move(start, end, insn.rm, insn.reg, 0, size);
            case Op.MOV_REG_IMM -> size == 8 || size == 4 ? new Step.Move(start, end, insn.reg, -1, insn.imm, size) : null;
            case Op.LEA -> size == 8 || size == 4 ? new Step.Lea(start, end, insn.reg, address(insn), size) : null;
            case Op.SHIFT_RI -> new Step.Shift(start, end, insn.sub, insn.rm, insn.imm, size);
            case Op.SHIFT -> !insn.isMemory() && insn.imm >= 0 && (size == 8 || size == 4)
                    ? new Step.Shift(start, end, insn.sub, insn.rm, insn.imm, size) : null;
            case Op.MOVZX, Op.MOVSX -> !insn.isMemory() && (size == 8 || size == 4)
                    ? extend(insn, start, end, insn.sub, insn.op == Op.MOVSX) : null;
            case Op.MOVSXD -> !insn.isMemory() && size == 8 ? extend(insn, start, end, 4, true) : null;
            case Op.IMUL_REG_RM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Multiply(start, end, insn.reg, insn.reg, insn.rm, 0, size) : null;
            case Op.IMUL_REG_RM_IMM -> !insn.isMemory() && (size == 8 || size == 4)
                    ? new Step.Multiply(start, end, insn.reg, insn.rm, -1, insn.imm, size) : null;
            case Op.MOV_RM_REG -> insn.legacy || !insn.isMemory() || size != 1 ? null
                    : new Step.Store(start, end, byteRegister(insn, insn.reg), byteShift(insn, insn.reg), address(insn), 1);
            case Op.LOAD64, Op.LOAD32 -> insn.legacy ? null : new Step.Load(start, end, insn.reg, address(insn), size);
            case Op.LOAD8_ZX -> insn.legacy ? null : new Step.Load(start, end, insn.reg, address(insn), 1);
            case Op.STORE64, Op.STORE32 -> insn.legacy ? null : new Step.Store(start, end, insn.reg, 0, address(insn), size);
            case Op.CMP_JCC, Op.TEST_JCC -> new Step.CompareBranch(start, end, insn.op == Op.TEST_JCC, insn.sub, insn.rm,
                    insn.reg, insn.imm, size, start + (int) insn.imm2, insn.disp);
            case Op.JCC -> insn.legacy ? null : new Step.Branch(start, end, insn.sub, insn.imm);
            case Op.JMP_REL -> insn.legacy ? null : new Step.Branch(start, end, -1, insn.imm);
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
        Step.AluKind kind = switch (insn.sub) {
            case Alu.ADD -> Step.AluKind.ADD;
            case Alu.OR -> Step.AluKind.OR;
            case Alu.AND -> Step.AluKind.AND;
            case Alu.SUB -> Step.AluKind.SUB;
            case Alu.XOR -> Step.AluKind.XOR;
            case Alu.CMP -> Step.AluKind.CMP;
            default -> null; // ADC, SBB read CF: the interpreter's
        };
        return kind == null ? null : new Step.Alu(start, end, kind, insn.rm, source, insn.imm, insn.opSize);
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
