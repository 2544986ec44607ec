package io.vmguard.engine.interp.jit;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.classfile.Opcode;
import java.lang.classfile.MethodModel;
import java.lang.classfile.attribute.CodeAttribute;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.DynamicConstantDesc;
import java.util.List;

import static io.vmguard.engine.interp.jit.RuntimeSurface.*;
import static java.lang.constant.ConstantDescs.CD_long;

/**
 * Turns a region's {@link Step}s (one block's, or several blocks' separated by {@link Step.Label}s) into a class
 * file: a final class implementing {@code CompiledBlock} whose {@code run} does what the interpreter's loop would do
 * with the blocks, without its per-instruction dispatch.
 *
 * <p>The guest registers the steps use live in JVM locals (HotSpot keeps them in host registers), loaded at entry
 * and written back to the CPU before every exit, before the interpreter runs an instruction, and by an exception
 * handler when a step faults; the flags stay the interpreter's lazy record. What the emitter does natively:
 * <ul>
 *   <li>register ALU, TEST, MOV, LEA, shifts and rotates by a constant or CL, MOVZX/MOVSX, IMUL, NOT, INC/DEC, NOP,
 *       with the lazy-flag record written only where it is live (a later step that can fault, exit or read flags
 *       would see it; one that a later step overwrites first is not); ADC, SBB, CMOVcc, SETcc on the record;</li>
 *   <li>loads, stores, memory-source ALU forms, PUSH/POP through the MMU's TLB fast path, RIP set first so a fault
 *       reports the instruction, guest registers (RSP too) changed only once the access is done;</li>
 *   <li>CALL rel32 and RET, which leave the block;</li>
 *   <li>SSE2 scalar double where the interpreter's JitSse guard allows, the interpreter otherwise;</li>
 *   <li>each block's final branch: a compare fused with its Jcc as lcmp and a branch, Jcc, JMP; one whose target
 *       is a block of the region is a jump inside the method (a backward one checks the runtime's back-edge
 *       budget first); others return, saying whether the vCPU may chain to the target.</li>
 * </ul>
 * Everything else calls the interpreter for that instruction ({@link Step.Interpret}), then leaves the block
 * exactly where the interpreter's loop would (RIP not on the next instruction, or the vCPU asked to look).
 */
final class BlockEmitter {
    /** Bytecode above this is never compiled by HotSpot (HugeMethodLimit is 8,000 bytes); stay well below. */
    static final int MAX_CODE_BYTES = 7_000;

    private static final int THIS = 0, RT = 1, CPU_LOCAL = 2, GPR_LOCAL = 3, MMU_LOCAL = 4, RIP0 = 5;
    private static final int A = 7, B = 9, R = 11, REGS = 13;
    private static final long LOW32 = 0xffff_ffffL;

    private final ClassFile classFile;

    BlockEmitter(ClassLoader loader) {
        this.classFile = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                ClassHierarchyResolver.defaultResolver().orElse(ClassHierarchyResolver.ofClassLoading(loader))));
    }

    /** Thrown when a block's bytecode would be too big for HotSpot to compile: the caller splits or skips it. */
    static final class TooLarge extends Exception {
        TooLarge(int bytes) {
            super(bytes + " bytes of bytecode", null, false, false);
        }
    }

    byte[] emit(String simpleName, List<Step> steps) throws TooLarge {
        ClassDesc self = ClassDesc.of(PACKAGE, simpleName);
        boolean[] flagsLive = flagLiveness(steps);
        byte[] bytes = classFile.build(self, cb -> {
            cb.withFlags(ClassFile.ACC_FINAL | ClassFile.ACC_SYNTHETIC);
            cb.withInterfaceSymbols(COMPILED);
            cb.withMethodBody(ConstantDescs.INIT_NAME, ConstantDescs.MTD_void, ClassFile.ACC_PUBLIC, code -> {
                code.aload(THIS);
                code.invokespecial(ConstantDescs.CD_Object, ConstantDescs.INIT_NAME, ConstantDescs.MTD_void);
                code.return_();
            });
            cb.withMethodBody(RUN, RUN_TYPE, ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL,
                    code -> new Body(code, steps, flagsLive).emit());
        });
        int size = codeLength(bytes);
        if (size > MAX_CODE_BYTES) {
            throw new TooLarge(size);
        }
        return bytes;
    }

    /** Bytes of bytecode in the generated {@code run} method. */
    int codeLength(byte[] bytes) {
        for (MethodModel method : classFile.parse(bytes).methods()) {
            if (method.methodName().equalsString(RUN)) {
                return ((CodeAttribute) method.code().orElseThrow()).codeLength();
            }
        }
        throw new IllegalStateException("no run method");
    }

    /**
     * For each step, whether the flags it records can be read before an ALU step overwrites them all: by an exit,
     * a fault (the handler sees RFLAGS), the interpreter, or a step that reads them. Only ALU steps use it.
     */
    static boolean[] flagLiveness(List<Step> steps) {
        boolean[] liveAfter = new boolean[steps.size()];
        boolean live = true; // the block's exit
        for (int i = steps.size() - 1; i >= 0; i--) {
            liveAfter[i] = live;
            live = liveBefore(steps.get(i), live);
        }
        return liveAfter;
    }

    /** Whether flags are live before {@code step}, given whether they are after it. */
    static boolean liveBefore(Step step, boolean live) {
            return switch (step) {
                case Step.Alu alu -> alu.kind().readsCarry(); // writes all six, reads none (ADC, SBB: CF)
                case Step.Multiply multiply -> false;     // the same (eagerly)
                case Step.Shift shift when shift.size() < 4 -> true;          // through Alu.shift (rotates read them)
                case Step.Shift shift when shiftCount(shift) == 0 -> live;   // changes no flag
                case Step.Shift shift when shift.kind() >= 4 -> false;       // SHL SHR SAL SAR: all six
                case Step.Shift shift when shift.kind() < 2 -> live;         // ROL ROR: skipped when dead, else read
                case Step.Move move -> live;             // no flags, no fault
                case Step.Nop nop -> live;
                case Step.Lea lea -> live;
                case Step.Extend extend -> live;
                case Step.ShiftByCl shift -> shift.kind() == 2 || shift.kind() == 3 || live; // a count of 0 keeps them
                case Step.Not not -> live;
                case Step.IncDec incDec -> live;          // CF kept: read only where the flags are
                case Step.Compute compute -> compute.readsMemory() || compute.kind().readsCarry(); // all six; a memory operand may fault first
                // A fused CMP/TEST and Jcc: registers only, so it cannot fault before its compare; it writes all six
                // on every way out where they can be read (its target's fault included) and reads none before.
                case Step.CompareBranch compareBranch -> false;
                default -> true;                         // may fault, exit or read flags (RCL, RCR, ...)
            };
    }

    /** The guest registers a native step reads or writes, a bit each. */
    static int registers(Step step) {
        return switch (step) {
            case Step.Alu s -> bit(s.dst()) | bit(s.src());
            case Step.Move s -> bit(s.dst()) | bit(s.src());
            case Step.Lea s -> bit(s.dst()) | registers(s.address());
            case Step.Shift s -> bit(s.dst());
            case Step.Extend s -> bit(s.dst()) | bit(s.src());
            case Step.Multiply s -> bit(s.dst()) | bit(s.a()) | bit(s.b());
            case Step.Load s -> bit(s.dst()) | registers(s.address());
            case Step.Store s -> bit(s.src()) | registers(s.address());
            case Step.StoreImmediate s -> registers(s.address());
            case Step.CompareBranch s -> bit(s.a()) | bit(s.b());
            case Step.Branch s -> 0;
            case Step.Nop s -> 0;
            case Step.Interpret s -> 0;
            case Step.Sse s -> (s.kind() == Step.SseKind.CONVERT ? bit(s.src()) : 0)
                    | (s.address() != null ? registers(s.address()) : 0);
            case Step.Label s -> 0;
            case Step.ShiftByCl s -> bit(s.dst()) | bit(RCX);
            case Step.Not s -> bit(s.dst());
            case Step.IncDec s -> bit(s.dst());
            case Step.Compute s -> registers(s.a()) | registers(s.b());
            case Step.LoadExtend s -> bit(s.dst()) | registers(s.address());
            case Step.Push s -> bit(s.src()) | bit(RSP);
            case Step.Pop s -> bit(s.dst()) | bit(RSP);
            case Step.Call s -> bit(RSP);
            case Step.Return s -> bit(RSP);
            case Step.ConditionalMove s -> bit(s.dst()) | registers(s.src());
            case Step.SetCondition s -> registers(s.dst());
        };
    }

    private static int registers(Step.Operand o) {
        return switch (o) {
            case Step.Operand.Register r -> bit(r.reg());
            case Step.Operand.Memory m -> registers(m.address());
            case Step.Operand.Immediate i -> 0;
        };
    }

    private static int registers(Step.Address a) {
        return a.ripRelative() ? 0 : bit(a.base()) | bit(a.index());
    }

    private static int bit(int reg) {
        return reg >= 0 ? 1 << reg : 0;
    }

    /** A shift's count as the CPU masks it (5 bits, 6 for 64-bit operands). */
    static int shiftCount(Step.Shift s) {
        return (int) (s.amount() & (s.size() == 8 ? 63 : 31));
    }

    /** The code of one {@code run} method. */
    private static final class Body {
        private final CodeBuilder code;
        private final List<Step> steps;
        private final boolean[] flagsLive;
        private final Label top;
        /** cpu.rip is the entry RIP plus this, as far as the code emitted so far knows; UNKNOWN: not known. */
        private int ripKnown = 0;
        private static final int UNKNOWN = Integer.MIN_VALUE;
        /** Guest instructions of the steps emitted so far (this pass through the block). */
        private int retired;
        /**
         * The region's blocks by their start (offset from the entry block's): their label, and whether flags found
         * at their start may be read before the block overwrites them all. The entry block is at 0.
         */
        private final java.util.Map<Integer, Label> sections = new java.util.HashMap<>();
        private final java.util.Map<Integer, Boolean> sectionFlagsLive = new java.util.HashMap<>();
        /** The start of the block whose steps are being emitted. */
        private int sectionStart;
        /** Guest registers (a bit each) the native steps use: held in JVM locals inside the block. */
        private final int used;
        private final Label faultHandler;
        private Label rangeStart;
        private final Label exitTail, chainTail;
        private boolean exitTailUsed, chainTailUsed;

        Body(CodeBuilder code, List<Step> steps, boolean[] flagsLive) {
            this.code = code;
            this.steps = steps;
            this.flagsLive = flagsLive;
            this.top = code.newLabel();
            sections.put(0, top);
            for (int i = 0; i < steps.size(); i++) {
                boolean first = i == 0 || steps.get(i - 1) instanceof Step.Label;
                if (first && !(steps.get(i) instanceof Step.Label)) {
                    int start = i == 0 ? 0 : steps.get(i - 1).start();
                    sections.putIfAbsent(start, code.newLabel());
                    sectionFlagsLive.put(start, liveBefore(steps.get(i), flagsLive[i]));
                }
            }
            this.used = steps.stream().mapToInt(BlockEmitter::registers).reduce(0, (a, b) -> a | b);
            this.faultHandler = code.newLabel();
            this.exitTail = code.newLabel();
            this.chainTail = code.newLabel();
        }

        void emit() {
            code.aload(RT).getfield(RUNTIME, RT_CPU, CPU).astore(CPU_LOCAL);
            code.aload(CPU_LOCAL).getfield(CPU, GPR, LONG_ARRAY).astore(GPR_LOCAL);
            code.aload(RT).getfield(RUNTIME, RT_MMU, MMU).astore(MMU_LOCAL);
            code.aload(CPU_LOCAL).getfield(CPU, RIP, CD_long).lstore(RIP0);
            loadRegisters();
            openFaultRange();
            code.labelBinding(top);
            for (int i = 0; i < steps.size(); i++) {
                Step step = steps.get(i);
                if (step instanceof Step.Label label) {
                    endSection(steps.get(i - 1));
                    code.labelBinding(sections.get(label.start()));
                    sectionStart = label.start();
                    retired = 0;
                    ripKnown = label.start(); // every way in stores RIP first
                    continue;
                }
                retired += step.count();
                switch (step) {
                    case Step.Alu s -> alu(s, flagsLive[i]);
                    case Step.Move s -> move(s);
                    case Step.Nop s -> { }
                    case Step.Lea s -> lea(s);
                    case Step.Shift s -> shift(s, flagsLive[i]);
                    case Step.Extend s -> extend(s);
                    case Step.Multiply s -> multiply(s, flagsLive[i]);
                    case Step.Load s -> load(s);
                    case Step.Store s -> store(s);
                    case Step.StoreImmediate s -> storeImmediate(s);
                    case Step.Interpret s -> interpret(s);
                    case Step.Sse s -> sse(s);
                    case Step.Branch s -> branch(s);
                    case Step.CompareBranch s -> compareBranch(s);
                    case Step.Label s -> { }
                    case Step.ShiftByCl s -> shiftByCl(s, flagsLive[i]);
                    case Step.Not s -> not(s);
                    case Step.IncDec s -> incDec(s, flagsLive[i]);
                    case Step.Compute s -> compute(s, flagsLive[i]);
                    case Step.LoadExtend s -> loadExtend(s);
                    case Step.Push s -> push(s);
                    case Step.Pop s -> pop(s);
                    case Step.Call s -> call(s);
                    case Step.Return s -> ret(s);
                    case Step.ConditionalMove s -> conditionalMove(s);
                    case Step.SetCondition s -> setCondition(s);
                }
            }
            endSection(steps.getLast());
            closeFaultRange();
            emitExitTails();
            // A fault (or an MMIO read the VMM must answer) unwinds from a load, a store or a branch: the CPU
            // must hold the registers as they were at that instruction, which the locals are.
            code.labelBinding(faultHandler);
            storeRegisters();
            code.athrow();
        }

        /**
         * After a block's last step: one that ended without a branch (page end, length limit) goes on at the next
         * instruction, inside the region if a block of it starts there.
         */
        private void endSection(Step last) {
            if (!last.transfersControl()) {
                if (sections.containsKey(last.end())) {
                    regionJump(last.end(), null);
                } else {
                    setRip(last.end());
                    chainExit(retired);
                }
            }
        }

        /** The not-taken side of a block's final branch: on at {@code end}, inside the region if a block starts there. */
        private void fallThrough(int end) {
            if (sections.containsKey(end)) {
                regionJump(end, null);
            } else {
                storeRip(end);
                chainExit(retired);
            }
        }

        /**
         * A jump to the start of a block of the region: its instructions are counted and RIP stored; a jump backward
         * (every loop has one) asks the runtime's back-edge budget and looks, and leaves the method when they say so.
         * {@code beforeLeavingLoop}: what a loop that stops must still do (a flag record the jump skipped).
         */
        private void regionJump(int target, Runnable beforeLeavingLoop) {
            code.aload(RT).dup().getfield(RUNTIME, RT_RETIRED, ConstantDescs.CD_int).loadConstant(retired).iadd()
                    .putfield(RUNTIME, RT_RETIRED, ConstantDescs.CD_int);
            storeRip(target);
            if (target <= sectionStart) {
                Label stop = code.newLabel();
                code.aload(RT).invokevirtual(RUNTIME, "backEdge", BACK_EDGE).ifeq(stop);
                code.goto_(sections.get(target));
                code.labelBinding(stop);
                if (beforeLeavingLoop != null) {
                    beforeLeavingLoop.run();
                }
                exit(0);
            } else {
                if (beforeLeavingLoop != null && sectionFlagsLive.getOrDefault(target, true)) {
                    beforeLeavingLoop.run();
                }
                code.goto_(sections.get(target));
            }
        }

        // ---- registers ----

        private void readReg(int reg, int size) {
            code.lload(slot(reg));
            if (size == 4) {
                code.loadConstant(LOW32).land();
            }
        }

        /** Copies local {@code local} into guest register {@code reg}'s local (already sized). */
        private void writeRegFrom(int local, int reg) {
            code.lload(local).lstore(slot(reg));
        }

        /** The JVM local that holds guest register {@code reg} inside the block. */
        private static int slot(int reg) {
            return REGS + 2 * reg;
        }

        /** Copies the block's registers from the CPU into their locals (entry, and after the interpreter ran). */
        private void loadRegisters() {
            for (int r = 0; r < 16; r++) {
                if ((used & (1 << r)) != 0) {
                    code.aload(GPR_LOCAL).loadConstant(r).laload().lstore(slot(r));
                }
            }
        }

        /** Writes the block's registers back to the CPU (before every exit, and before the interpreter runs). */
        private void storeRegisters() {
            for (int r = 0; r < 16; r++) {
                if ((used & (1 << r)) != 0) {
                    code.aload(GPR_LOCAL).loadConstant(r).lload(slot(r)).lastore();
                }
            }
        }

        /**
         * Leaves the block: registers back to the CPU, and the count of instructions retired. Every exit jumps with
         * its count to one shared tail ({@link #emitExitTails}) instead of writing the registers back itself: those
         * write-backs were a third of a region's bytecode, which C1 parses and allocates registers for.
         */
        private void exit(int count) {
            code.loadConstant(count).goto_(exitTail);
            exitTailUsed = true;
        }

        /**
         * Leaves the block for a successor known from the code (a direct branch's target, the next instruction): the
         * vCPU may run the successor's translation at once ({@code JitRuntime.chain}).
         */
        private void chainExit(int count) {
            code.loadConstant(count).goto_(chainTail);
            chainTailUsed = true;
        }

        /**
         * The exits' shared code, outside every fault range (it cannot fault): the count is on the operand stack. The
         * chaining exit sets {@code JitRuntime.chain}, then goes on as the plain exit.
         */
        private void emitExitTails() {
            if (chainTailUsed) {
                code.labelBinding(chainTail);
                code.aload(RT).iconst_1().putfield(RUNTIME, RT_CHAIN, ConstantDescs.CD_boolean);
                exitTailUsed = true; // falls through
            }
            if (exitTailUsed) {
                code.labelBinding(exitTail);
                storeRegisters();
                code.ireturn();
            }
        }

        /** Ends the code range a fault writes the registers back over (see {@link #emit}). */
        private void closeFaultRange() {
            Label end = code.newLabel();
            code.labelBinding(end);
            code.exceptionCatchAll(rangeStart, end, faultHandler);
        }

        private void openFaultRange() {
            rangeStart = code.newLabel();
            code.labelBinding(rangeStart);
        }

        private void setRip(int offset) {
            if (ripKnown != offset) {
                storeRip(offset);
                ripKnown = offset;
            }
        }

        /** cpu.rip = entry RIP + offset, on one path only (ripKnown untouched). */
        private void storeRip(int offset) {
            code.aload(CPU_LOCAL).lload(RIP0);
            if (offset != 0) {
                code.loadConstant((long) offset).ladd();
            }
            code.putfield(CPU, RIP, CD_long);
        }

        /** Leaves the block with RIP after the step when the vCPU wants a look (a device, a code write, a monitor). */
        private void exitIfAsked(int end) {
            Label go = code.newLabel();
            code.aload(RT).invokevirtual(RUNTIME, "leave", LEAVE).ifeq(go);
            storeRip(end);
            exit(retired);
            code.labelBinding(go);
        }

        // ---- steps ----

        private void alu(Step.Alu s, boolean flags) {
            int size = s.size();
            if (s.kind().readsCarry()) {
                code.aload(CPU_LOCAL).loadConstant(s.kind() == Step.AluKind.ADC ? ALU_ADC : ALU_SBB).lload(slot(s.dst()));
                if (s.src() >= 0) {
                    code.lload(slot(s.src()));
                } else {
                    code.loadConstant(s.imm());
                }
                code.loadConstant(size).invokestatic(ALU, "binary", BINARY).lstore(slot(s.dst()));
                return;
            }
            long mask = size == 4 ? LOW32 : -1L;
            readReg(s.dst(), size);
            code.lstore(A);
            if (s.src() >= 0) {
                readReg(s.src(), size);
            } else {
                code.loadConstant(s.imm() & mask);
            }
            code.lstore(B);
            code.lload(A).lload(B);
            int ccOp;
            switch (s.kind()) {
                case ADD -> { code.ladd(); ccOp = CC_ADD; }
                case SUB, CMP -> { code.lsub(); ccOp = CC_SUB; }
                case AND, TEST -> { code.land(); ccOp = CC_LOGIC; }
                case OR -> { code.lor(); ccOp = CC_LOGIC; }
                default -> { code.lxor(); ccOp = CC_LOGIC; }
            }
            if (size == 4 && (ccOp == CC_ADD || ccOp == CC_SUB)) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(R);
            if (flags) {
                recordAluFlags(ccOp, R, size);
            }
            if (s.kind() != Step.AluKind.CMP && s.kind() != Step.AluKind.TEST) {
                writeRegFrom(R, s.dst());
            }
        }

        /**
         * Records an ALU result's flags lazily, as the interpreter does: {@code Alu.lazy(cpu, ccOp, result,
         * source, 0, size)}, the source operand (local {@code B}) for ADD/SUB and 0 for the logic ops.
         */
        private void recordAluFlags(int ccOp, int resultLocal, int size) {
            code.aload(CPU_LOCAL).loadConstant(ccOp).lload(resultLocal);
            if (ccOp == CC_LOGIC) {
                code.lconst_0();
            } else {
                code.lload(B);
            }
            code.lconst_0().loadConstant(size).invokestatic(ALU, "lazy", LAZY);
        }

        private void move(Step.Move s) {
                        if (s.src() >= 0) {
                readReg(s.src(), s.size());
            } else {
                code.loadConstant(s.size() == 4 ? s.imm() & LOW32 : s.imm());
            }
            code.lstore(slot(s.dst()));
        }

        private void lea(Step.Lea s) {
                        effectiveOffset(s.address(), s.end());
            if (s.size() == 4) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(slot(s.dst()));
        }

        /**
         * Shifts by a constant count natively (the lazy SHIFT record only where live); rotates natively where their
         * flags are dead; RCL, RCR and live rotates through the interpreter's Alu.shift.
         */
        private void shift(Step.Shift s, boolean flags) {
            int size = s.size();
            int bits = size * 8;
            int count = shiftCount(s);
            int kind = s.kind();
            long mask = size == 4 ? LOW32 : -1L;
            if (size < 4) { // a byte or word: the interpreter's Alu.shift on the low part, merged back
                if (count == 0) {
                    return;
                }
                long low = size == 1 ? 0xffL : 0xffffL;
                code.lload(slot(s.dst())).loadConstant(~low).land();
                code.aload(CPU_LOCAL).loadConstant(kind).lload(slot(s.dst())).loadConstant(s.amount()).loadConstant(size)
                        .invokestatic(ALU, "shift", SHIFT);
                code.lor().lstore(slot(s.dst()));
                return;
            }
            if (count == 0) {
                if (size == 4) { // the value is written back: a 32-bit destination is zero-extended
                                        readReg(s.dst(), 4);
                    code.lstore(slot(s.dst()));
                }
                return;
            }
            if (kind == 2 || kind == 3 || kind < 2 && flags) {
                                code.aload(CPU_LOCAL).loadConstant(kind);
                code.lload(slot(s.dst()));
                code.loadConstant(s.amount()).loadConstant(size).invokestatic(ALU, "shift", SHIFT);
                code.lstore(slot(s.dst()));
                return;
            }
            readReg(s.dst(), size);
            code.lstore(A);
            switch (kind) {
                case 0, 1 -> { // ROL, ROR, flags dead
                    int c = count % bits;
                    if (c == 0) {
                        code.lload(A).lstore(R);
                    } else {
                        code.lload(A).loadConstant(kind == 0 ? c : bits - c).lshl();
                        code.lload(A).loadConstant(kind == 0 ? bits - c : c).lushr().lor();
                        code.loadConstant(mask).land().lstore(R);
                    }
                    writeRegFrom(R, s.dst());
                    return;
                }
                case 4, 6 -> { // SHL, SAL
                    code.lload(A).loadConstant(count).lshl().loadConstant(mask).land().lstore(R);
                    if (flags) {
                        code.lload(A).loadConstant(bits - count).lushr().lconst_1().land().lstore(B); // CF
                        code.lload(B);
                        code.lload(R).loadConstant(bits - 1).lushr().lconst_1().land().lload(B).lxor() // OF: sign != CF
                                .loadConstant(OF_SHIFT).lshl().lor();
                    }
                }
                case 5 -> { // SHR
                    code.lload(A).loadConstant(count).lushr().lstore(R);
                    if (flags) {
                        code.lload(A).loadConstant(count - 1).lushr().lconst_1().land();
                        code.lload(A).loadConstant(bits - 1).lushr().lconst_1().land().loadConstant(OF_SHIFT).lshl().lor();
                    }
                }
                default -> { // SAR
                    code.lload(A);
                    if (size == 4) {
                        code.l2i().i2l();
                    }
                    code.lstore(B); // the operand, sign-extended
                    code.lload(B).loadConstant(count).lshr().loadConstant(mask).land().lstore(R);
                    if (flags) {
                        code.lload(B).loadConstant(count - 1).lshr().lconst_1().land(); // CF; OF clear
                    }
                }
            }
            if (flags) {
                // Stack: the record's source (CF and OF bits). Alu.lazy(cpu, SHIFT, result, source, 0, size).
                code.lstore(B);
                code.aload(CPU_LOCAL).loadConstant(CC_SHIFT).lload(R).lload(B).lconst_0().loadConstant(size)
                        .invokestatic(ALU, "lazy", LAZY);
            }
            writeRegFrom(R, s.dst());
        }

        /**
         * A shift by CL: with its flags dead, SHL/SHR/SAR natively (Java masks the count as the CPU does for 64-bit
         * operands, and a 32-bit count below 32 stays within the long); else the interpreter's own Alu.shift.
         */
        private void shiftByCl(Step.ShiftByCl s, boolean flags) {
            int size = s.size();
            int kind = s.kind();
            if (flags || kind < 4) {
                code.aload(CPU_LOCAL).loadConstant(kind);
                code.lload(slot(s.dst()));
                code.lload(slot(RCX)).loadConstant(0xffL).land();
                code.loadConstant(size).invokestatic(ALU, "shift", SHIFT);
                code.lstore(slot(s.dst()));
                return;
            }
            if (kind == 7) { // SAR: the operand sign-extended
                code.lload(slot(s.dst()));
                if (size == 4) {
                    code.l2i().i2l();
                }
            } else {
                readReg(s.dst(), size);
            }
            code.lload(slot(RCX)).l2i().loadConstant(size == 8 ? 63 : 31).iand();
            switch (kind) {
                case 5 -> code.lushr();
                case 7 -> code.lshr();
                default -> code.lshl(); // SHL, SAL
            }
            if (size == 4) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(slot(s.dst()));
        }

        private void not(Step.Not s) {
            code.lload(slot(s.dst())).loadConstant(-1L).lxor();
            if (s.size() == 4) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(slot(s.dst()));
        }

        /** INC/DEC: the interpreter's Alu.inc/dec (its record keeps CF) where the flags are live, else an add. */
        private void incDec(Step.IncDec s, boolean flags) {
            if (flags) {
                code.aload(CPU_LOCAL).lload(slot(s.dst())).loadConstant(s.size())
                        .invokestatic(ALU, s.decrement() ? "dec" : "inc", INC_DEC);
            } else {
                code.lload(slot(s.dst())).lconst_1();
                if (s.decrement()) {
                    code.lsub();
                } else {
                    code.ladd();
                }
                if (s.size() == 4) {
                    code.loadConstant(LOW32).land();
                }
            }
            code.lstore(slot(s.dst()));
        }

        /**
         * An ALU form with byte or word operands or a memory operand: both operands read at the operand size (the
         * memory one first thing, RIP on the instruction), the result and the lazy record as Alu.binary makes them,
         * and a register result merged into its register as the interpreter's writeReg does. A read-modify-write
         * mirrors the interpreter's Executor: the address formed once, the destination read with write intent, the
         * flags recorded (always: a fault on the write shows them, as it does there), then the write through the
         * MMU, which sees writes to code and watched pages.
         */
        private void compute(Step.Compute s, boolean flags) {
            int size = s.size();
            long mask = size == 8 ? -1L : (1L << (size * 8)) - 1;
            boolean rmw = s.writesMemory();
            if (s.readsMemory()) {
                setRip(s.start());
            }
            if (rmw) {
                linearAddress(((Step.Operand.Memory) s.a()).address(), s.end());
                code.lstore(R); // the address, until the write
                code.aload(RT).lload(R).loadConstant(size).invokevirtual(RUNTIME, "readForWrite", READ_FOR_WRITE);
                flags = true;
            } else {
                operand(s.a(), size, s.end());
            }
            code.lstore(A);
            if (s.kind() == Step.AluKind.NEG) {
                code.lload(A).lstore(B); // NEG's recorded source is its operand
            } else {
                operand(s.b(), size, s.end());
                code.lstore(B);
            }
            int result = rmw ? A : R; // a read-modify-write keeps the address in R
            int ccOp = -1;
            if (s.kind().readsCarry()) { // the interpreter's Alu: the record of the carry in
                code.aload(CPU_LOCAL).loadConstant(s.kind() == Step.AluKind.ADC ? ALU_ADC : ALU_SBB).lload(A).lload(B)
                        .loadConstant(size).invokestatic(ALU, "binary", BINARY);
                flags = false;
            } else if (s.kind() == Step.AluKind.NEG) { // Alu.neg: 0 - a, recorded as that SUB
                code.lconst_0().lload(A).lsub();
                ccOp = CC_SUB;
                if (size != 8) {
                    code.loadConstant(mask).land();
                }
            } else {
                code.lload(A).lload(B);
                switch (s.kind()) {
                    case ADD -> { code.ladd(); ccOp = CC_ADD; }
                    case SUB, CMP -> { code.lsub(); ccOp = CC_SUB; }
                    case AND, TEST -> { code.land(); ccOp = CC_LOGIC; }
                    case OR -> { code.lor(); ccOp = CC_LOGIC; }
                    case XOR -> { code.lxor(); ccOp = CC_LOGIC; }
                    default -> throw new IllegalArgumentException("ALU kind " + s.kind());
                }
                if (size != 8 && (ccOp == CC_ADD || ccOp == CC_SUB)) {
                    code.loadConstant(mask).land();
                }
            }
            code.lstore(result);
            if (flags) {
                recordAluFlags(ccOp, result, size);
            }
            if (rmw) {
                code.aload(MMU_LOCAL).lload(R).lload(result);
                switch (size) {
                    case 8 -> code.invokevirtual(MMU, "write64", WRITE64);
                    case 4 -> code.l2i().invokevirtual(MMU, "write32", WRITE32);
                    case 2 -> code.l2i().invokevirtual(MMU, "write16", WRITE16);
                    default -> code.l2i().invokevirtual(MMU, "write8", WRITE8);
                }
            } else if (s.kind() != Step.AluKind.CMP && s.kind() != Step.AluKind.TEST
                    && s.a() instanceof Step.Operand.Register r) {
                int shift = r.shift();
                if (size == 8 || size == 4) {
                    code.lload(R);
                } else {
                    code.lload(slot(r.reg())).loadConstant(~(mask << shift)).land();
                    code.lload(R);
                    if (shift != 0) {
                        code.loadConstant(shift).lshl();
                    }
                    code.lor();
                }
                code.lstore(slot(r.reg()));
            }
            if (s.readsMemory()) {
                exitIfAsked(s.end());
            }
        }

        /** CMOVcc: the source read first (a memory one even when nothing moves), then the condition on the flags. */
        private void conditionalMove(Step.ConditionalMove s) {
            boolean memory = s.src() instanceof Step.Operand.Memory;
            if (memory) {
                setRip(s.start());
            }
            operand(s.src(), s.size(), s.end());
            code.lstore(A);
            Label keep = code.newLabel();
            Label done = code.newLabel();
            code.aload(CPU_LOCAL).loadConstant(s.cc()).invokestatic(FLAGS, "condition", CONDITION).ifeq(keep);
            code.lload(A).lstore(slot(s.dst()));
            code.goto_(done);
            code.labelBinding(keep);
            if (s.size() == 4) { // zero-extended even when not taken
                readReg(s.dst(), 4);
                code.lstore(slot(s.dst()));
            }
            code.labelBinding(done);
            if (memory) {
                exitIfAsked(s.end());
            }
        }

        /** SETcc: 1 or 0 into a byte register (merged) or a byte of memory. */
        private void setCondition(Step.SetCondition s) {
            switch (s.dst()) {
                case Step.Operand.Register r -> {
                    code.lload(slot(r.reg())).loadConstant(~(0xffL << r.shift())).land();
                    code.aload(CPU_LOCAL).loadConstant(s.cc()).invokestatic(FLAGS, "condition", CONDITION).i2l();
                    if (r.shift() != 0) {
                        code.loadConstant(r.shift()).lshl();
                    }
                    code.lor().lstore(slot(r.reg()));
                }
                case Step.Operand.Memory m -> {
                    setRip(s.start());
                    code.aload(MMU_LOCAL);
                    linearAddress(m.address(), s.end());
                    code.aload(CPU_LOCAL).loadConstant(s.cc()).invokestatic(FLAGS, "condition", CONDITION);
                    code.invokevirtual(MMU, "write8", WRITE8);
                    exitIfAsked(s.end());
                }
                case Step.Operand.Immediate i -> throw new IllegalArgumentException("SETcc to an immediate");
            }
        }

        /** An operand's value at {@code size} bytes, zero-extended, on the stack. */
        private void operand(Step.Operand o, int size, int end) {
            long mask = size == 8 ? -1L : (1L << (size * 8)) - 1;
            switch (o) {
                case Step.Operand.Register r -> {
                    code.lload(slot(r.reg()));
                    if (r.shift() != 0) {
                        code.loadConstant(r.shift()).lushr();
                    }
                    if (size != 8) {
                        code.loadConstant(mask).land();
                    }
                }
                case Step.Operand.Immediate i -> code.loadConstant(i.value() & mask);
                case Step.Operand.Memory m -> {
                    code.aload(MMU_LOCAL);
                    linearAddress(m.address(), end);
                    read(size);
                }
            }
        }

        /** Mmu.readN of the address on the stack, zero-extended to a long. */
        private void read(int size) {
            switch (size) {
                case 8 -> code.invokevirtual(MMU, "read64", READ64);
                case 4 -> code.invokevirtual(MMU, "read32", READ_INT).i2l().loadConstant(LOW32).land();
                case 2 -> code.invokevirtual(MMU, "read16", READ_INT).i2l();
                default -> code.invokevirtual(MMU, "read8", READ_INT).i2l();
            }
        }

        /** MOVZX, MOVSX, MOVSXD from memory. */
        private void loadExtend(Step.LoadExtend s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            linearAddress(s.address(), s.end());
            read(s.from());
            if (s.signed()) {
                code.l2i();
                switch (s.from()) {
                    case 1 -> code.i2b();
                    case 2 -> code.i2s();
                    default -> { }
                }
                code.i2l();
            }
            if (s.size() == 4) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(slot(s.dst()));
            exitIfAsked(s.end());
        }

        /** The stack address of RSP + {@code delta} for 8 bytes (#SS when not canonical), on the stack. */
        private void stackSlot(long delta) {
            code.lload(slot(RSP));
            if (delta != 0) {
                code.loadConstant(delta).ladd();
            }
            code.loadConstant(8).invokestatic(EXECUTOR, "stackAddress", STACK_ADDRESS);
        }

        /** Pushes the long on top of the stack (RIP already on the instruction); RSP only moves once it is stored. */
        private void pushValue() {
            code.lstore(A);
            code.aload(MMU_LOCAL);
            stackSlot(-8);
            code.lload(A).invokevirtual(MMU, "write64", WRITE64);
            code.lload(slot(RSP)).loadConstant(8L).lsub().lstore(slot(RSP));
        }

        private void push(Step.Push s) {
            setRip(s.start());
            code.lload(slot(s.src())); // PUSH RSP pushes the old value
            pushValue();
            exitIfAsked(s.end());
        }

        /** POP: the value read, RSP moved, then the register written (so POP RSP ends with the value). */
        private void pop(Step.Pop s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            stackSlot(0);
            code.invokevirtual(MMU, "read64", READ64).lstore(A);
            code.lload(slot(RSP)).loadConstant(8L).ladd().lstore(slot(RSP));
            code.lload(A).lstore(slot(s.dst()));
            exitIfAsked(s.end());
        }

        /**
         * CALL rel32: #GP(0) for a non-canonical target before anything is pushed, then the return address pushed
         * and the block left for the target (chained, unless the push asked for a look).
         */
        private void call(Step.Call s) {
            setRip(s.start());
            Label canonical = code.newLabel();
            code.lload(RIP0).loadConstant(s.end() + s.disp()).ladd().invokestatic(EXECUTOR, "canonical", CANONICAL)
                    .ifne(canonical);
            code.invokestatic(GUEST_FAULT, "gp", GP).athrow();
            code.labelBinding(canonical);
            code.lload(RIP0).loadConstant((long) s.end()).ladd();
            pushValue();
            code.aload(CPU_LOCAL).lload(RIP0).loadConstant(s.end() + s.disp()).ladd().putfield(CPU, RIP, CD_long);
            Label look = code.newLabel();
            code.aload(RT).invokevirtual(RUNTIME, "leave", LEAVE).ifne(look);
            chainExit(retired);
            code.labelBinding(look);
            exit(retired);
        }

        /** RET: the return address read, checked canonical (#GP with RIP and RSP on the RET), then RSP released. */
        private void ret(Step.Return s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            stackSlot(0);
            code.invokevirtual(MMU, "read64", READ64).lstore(A);
            code.aload(RT).lload(A).invokevirtual(RUNTIME, "jump", JUMP);
            code.lload(slot(RSP)).loadConstant(8L + s.release()).ladd().lstore(slot(RSP));
            exit(retired);
        }

        private void extend(Step.Extend s) {
            code.lload(slot(s.src()));
            if (s.shift() != 0) {
                code.loadConstant(s.shift()).lushr();
            }
            if (s.signed()) {
                code.l2i();
                switch (s.from()) {
                    case 1 -> code.i2b();
                    case 2 -> code.i2s();
                    default -> { }
                }
                code.i2l();
            } else {
                code.loadConstant(s.from() == 1 ? 0xffL : s.from() == 2 ? 0xffffL : LOW32).land();
            }
            if (s.size() == 4) {
                code.loadConstant(LOW32).land();
            }
            code.lstore(slot(s.dst()));
        }

        /** IMUL: the interpreter's Alu.imul where its flags are live, else just the low half. */
        private void multiply(Step.Multiply s, boolean flags) {
            if (flags) {
                code.aload(CPU_LOCAL);
            }
            readReg(s.a(), 8);
            if (s.size() == 4) {
                code.l2i().i2l();
            }
            if (s.b() >= 0) {
                readReg(s.b(), 8);
                if (s.size() == 4) {
                    code.l2i().i2l();
                }
            } else {
                code.loadConstant(s.size() == 4 ? (long) (int) s.imm() : s.imm());
            }
            if (flags) {
                code.loadConstant(s.size()).invokestatic(ALU, "imul", IMUL);
            } else {
                code.lmul();
                if (s.size() == 4) {
                    code.loadConstant(LOW32).land();
                }
            }
            code.lstore(slot(s.dst()));
        }

        private void load(Step.Load s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            linearAddress(s.address(), s.end());
            switch (s.size()) {
                case 8 -> code.invokevirtual(MMU, "read64", READ64);
                case 4 -> code.invokevirtual(MMU, "read32", READ_INT).i2l().loadConstant(LOW32).land();
                default -> code.invokevirtual(MMU, "read8", READ_INT).i2l();
            }
            code.lstore(slot(s.dst()));
            exitIfAsked(s.end());
        }

        private void store(Step.Store s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            linearAddress(s.address(), s.end());
            code.lload(slot(s.src()));
            if (s.shift() != 0) {
                code.loadConstant(s.shift()).lushr();
            }
            switch (s.size()) {
                case 8 -> code.invokevirtual(MMU, "write64", WRITE64);
                case 4 -> code.l2i().invokevirtual(MMU, "write32", WRITE32);
                case 2 -> code.l2i().invokevirtual(MMU, "write16", WRITE16);
                default -> code.l2i().invokevirtual(MMU, "write8", WRITE8);
            }
            exitIfAsked(s.end());
        }

        /** MOV [mem], imm: the write through the MMU (code and watched pages see it), as the interpreter's writeRm. */
        private void storeImmediate(Step.StoreImmediate s) {
            setRip(s.start());
            code.aload(MMU_LOCAL);
            linearAddress(s.address(), s.end());
            switch (s.size()) {
                case 8 -> code.loadConstant(s.imm()).invokevirtual(MMU, "write64", WRITE64);
                case 4 -> code.loadConstant((int) s.imm()).invokevirtual(MMU, "write32", WRITE32);
                case 2 -> code.loadConstant((int) s.imm()).invokevirtual(MMU, "write16", WRITE16);
                default -> code.loadConstant((int) s.imm()).invokevirtual(MMU, "write8", WRITE8);
            }
            exitIfAsked(s.end());
        }

        private void interpret(Step.Interpret s) {
            interpret(s.start(), s.end(), s.index(), s.last(), false);
        }

        /**
         * Instruction {@code index} of the block through the interpreter; {@code withOperand}: its m64 operand was
         * read already and is in local B (an SSE form whose guard failed after the read).
         */
        private void interpret(int start, int end, int index, boolean last, boolean withOperand) {
            setRip(start);
            storeRegisters();
            code.aload(RT);
            code.ldc(DynamicConstantDesc.ofNamed(ConstantDescs.BSM_CLASS_DATA_AT, ConstantDescs.DEFAULT_NAME,
                    INSTRUCTION, index));
            if (withOperand) {
                code.lload(B);
            }
            // Outside the fault range: the interpreter leaves the state a fault needs (a REP string instruction
            // stopped by a fault has done part of its work), which the locals must not overwrite.
            closeFaultRange();
            code.invokevirtual(RUNTIME, withOperand ? "executeWithOperand" : "execute",
                    withOperand ? EXECUTE_WITH_OPERAND : EXECUTE);
            openFaultRange();
            if (last) {
                code.loadConstant(retired).ireturn(); // RIP is wherever the instruction sent it; registers are there
                return;
            }
            loadRegisters();
            // As the interpreter's loop: go on only if RIP reached the next instruction and nobody asked for a look.
            Label leave = code.newLabel();
            Label go = code.newLabel();
            code.aload(RT).invokevirtual(RUNTIME, "leave", LEAVE).ifne(leave);
            code.aload(CPU_LOCAL).getfield(CPU, RIP, CD_long).lload(RIP0).loadConstant((long) end).ladd().lcmp().ifeq(go);
            code.labelBinding(leave);
            exit(retired);
            code.labelBinding(go);
            ripKnown = end;
        }

        /**
         * An SSE2 form natively where JitSse's guard allows, else through the interpreter. Guards that need no
         * operand come before a memory operand is read, so that a fallback then reads nothing; one that fails after
         * the read hands the value over with the instruction, so memory is read once either way.
         */
        private void sse(Step.Sse s) {
            Label fallback = code.newLabel();
            Label fallbackWithOperand = code.newLabel();
            Label done = code.newLabel();
            boolean memory = s.address() != null;
            boolean operandFallback = false;
            int ripAtBranch = ripKnown;
            switch (s.kind()) {
                case LOAD_SCALAR -> {
                    guard("enabled", fallback);
                    setRip(s.start());
                    code.aload(CPU_LOCAL).loadConstant(s.dst());
                    code.aload(MMU_LOCAL);
                    linearAddress(s.address(), s.end());
                    code.invokevirtual(MMU, "read64", READ64);
                    code.invokestatic(JIT_SSE, "loadScalar", SSE_LOAD);
                }
                case STORE_SCALAR -> {
                    guard("enabled", fallback);
                    setRip(s.start());
                    code.aload(MMU_LOCAL);
                    linearAddress(s.address(), s.end());
                    code.aload(CPU_LOCAL).loadConstant(s.src()).invokestatic(JIT_SSE, "low", SSE_LOW);
                    code.invokevirtual(MMU, "write64", WRITE64);
                }
                case MOVE_PACKED, MOVE_SCALAR, XOR_PACKED -> {
                    String name = switch (s.kind()) {
                        case MOVE_PACKED -> "movePacked";
                        case MOVE_SCALAR -> "moveScalar";
                        default -> "xorPacked";
                    };
                    code.aload(CPU_LOCAL).loadConstant(s.dst()).loadConstant(s.src())
                            .invokestatic(JIT_SSE, name, SSE_MOVE).ifeq(fallback);
                }
                case CONVERT -> {
                    code.aload(CPU_LOCAL).loadConstant(s.dst());
                    readReg(s.src(), 8);
                    if (s.size() == 4) {
                        code.l2i().i2l();
                    }
                    code.invokestatic(JIT_SSE, "convert", SSE_WITH_VALUE).ifeq(fallback);
                }
                default -> { // ADD SUB MUL DIV COMPARE
                    boolean compare = s.kind() == Step.SseKind.COMPARE;
                    if (memory) {
                        guard("enabled", fallback);
                        if (!compare) {
                            guard("inexactIsSilent", fallback);
                        }
                        setRip(s.start());
                        code.aload(MMU_LOCAL);
                        linearAddress(s.address(), s.end());
                        code.invokevirtual(MMU, "read64", READ64).lstore(B);
                    }
                    code.aload(CPU_LOCAL);
                    if (!compare) {
                        code.loadConstant(switch (s.kind()) {
                            case ADD -> 0x58;
                            case SUB -> 0x5c;
                            case MUL -> 0x59;
                            default -> 0x5e;
                        });
                    }
                    code.loadConstant(s.dst());
                    if (memory) {
                        code.lload(B);
                    } else {
                        code.aload(CPU_LOCAL).loadConstant(s.src()).invokestatic(JIT_SSE, "low", SSE_LOW);
                    }
                    code.invokestatic(JIT_SSE, compare ? "compare" : "arithmetic", compare ? SSE_WITH_VALUE : SSE_ARITHMETIC);
                    operandFallback = memory;
                    code.ifeq(operandFallback ? fallbackWithOperand : fallback);
                }
            }
            int ripNative = ripKnown;
            code.goto_(done);
            if (operandFallback) {
                code.labelBinding(fallbackWithOperand);
                ripKnown = ripNative;
                interpret(s.start(), s.end(), s.index(), false, true);
                code.goto_(done);
            }
            code.labelBinding(fallback);
            ripKnown = ripAtBranch;
            interpret(s.start(), s.end(), s.index(), false, false);
            code.labelBinding(done);
            ripKnown = ripNative == s.end() ? ripNative : UNKNOWN;
            if (memory) {
                exitIfAsked(s.end()); // as after a load or store: RIP past the instruction
            }
        }

        /** Jumps to {@code fallback} unless the JitSse guard {@code name}(cpu) holds. */
        private void guard(String name, Label fallback) {
            code.aload(CPU_LOCAL).invokestatic(JIT_SSE, name, SSE_ENABLED).ifeq(fallback);
        }

        private void branch(Step.Branch s) {
            if (s.cc() < 0) {
                taken(s.start(), s.end() + s.disp(), null);
                return;
            }
            Label notTaken = code.newLabel();
            code.aload(CPU_LOCAL).loadConstant(s.cc()).invokestatic(FLAGS, "condition", CONDITION).ifeq(notTaken);
            taken(s.start(), s.end() + s.disp(), null);
            code.labelBinding(notTaken);
            fallThrough(s.end());
        }

        /**
         * A CMP or TEST fused with its Jcc: the condition from the operands (lcmp and a branch), the lazy-flag record
         * written on the way out only (and not at all on a loop's back edge when the block's first flag use
         * overwrites them). Overflow and parity conditions take the interpreter's Flags instead.
         */
        private void compareBranch(Step.CompareBranch s) {
            int kind = s.cc() >> 1;
            if (kind == 0 || kind == 5) {
                compareBranchThroughFlags(s);
                return;
            }
            Label taken = code.newLabel();
            conditionJump(s, taken);
            recordCompare(s);
            fallThrough(s.end());
            code.labelBinding(taken);
            long target = s.end() + s.disp();
            boolean inRegion = target == (int) target && sections.containsKey((int) target);
            if (!(inRegion && !sectionFlagsLive.get((int) target))) {
                recordCompare(s);
                taken(s.branchAt(), s.end() + s.disp(), null);
            } else {
                taken(s.branchAt(), s.end() + s.disp(), () -> recordCompare(s));
            }
        }

        /** Jumps to {@code taken} when the fused compare's condition holds. */
        private void conditionJump(Step.CompareBranch s, Label taken) {
            int kind = s.cc() >> 1;
            boolean negate = (s.cc() & 1) != 0;
            boolean wide = s.size() == 8;
            if (s.test()) {
                if (kind == 1) { // B after TEST: CF is clear
                    if (negate) {
                        code.goto_(taken);
                    }
                    return;
                }
                operand(s, true, false);
                operand(s, false, false);
                code.land();
                switch (kind) {
                    case 2, 3 -> { // E, BE: ZF (CF clear)
                        if (!wide) {
                            code.loadConstant(LOW32).land();
                        }
                        code.lconst_0().lcmp();
                        branchOn(negate ? Opcode.IFNE : Opcode.IFEQ, taken);
                    }
                    case 4, 6 -> { // S, L (OF clear): the sign
                        if (!wide) {
                            code.l2i().i2l();
                        }
                        code.lconst_0().lcmp();
                        branchOn(negate ? Opcode.IFGE : Opcode.IFLT, taken);
                    }
                    default -> { // LE: ZF or SF, that is value <= 0 as a signed number
                        if (!wide) {
                            code.l2i().i2l();
                        }
                        code.lconst_0().lcmp();
                        branchOn(negate ? Opcode.IFGT : Opcode.IFLE, taken);
                    }
                }
                return;
            }
            switch (kind) {
                case 1, 3 -> { // B, BE: unsigned
                    unsigned(s, true);
                    unsigned(s, false);
                    code.lcmp();
                    branchOn(kind == 1 ? (negate ? Opcode.IFGE : Opcode.IFLT) : (negate ? Opcode.IFGT : Opcode.IFLE), taken);
                }
                case 2 -> { // E
                    operand(s, true, false);
                    operand(s, false, false);
                    if (!wide) {
                        code.lsub().loadConstant(LOW32).land().lconst_0();
                    }
                    code.lcmp();
                    branchOn(negate ? Opcode.IFNE : Opcode.IFEQ, taken);
                }
                case 4 -> { // S: the difference's sign
                    operand(s, true, false);
                    operand(s, false, false);
                    code.lsub();
                    if (!wide) {
                        code.l2i().i2l();
                    }
                    code.lconst_0().lcmp();
                    branchOn(negate ? Opcode.IFGE : Opcode.IFLT, taken);
                }
                default -> { // L, LE: signed
                    operand(s, true, !wide);
                    operand(s, false, !wide);
                    code.lcmp();
                    branchOn(kind == 6 ? (negate ? Opcode.IFGE : Opcode.IFLT) : (negate ? Opcode.IFGT : Opcode.IFLE), taken);
                }
            }
        }

        private void branchOn(Opcode opcode, Label target) {
            code.branch(opcode, target);
        }

        /** Operand a ({@code first}) or b of a fused compare, as a long; {@code signExtend32}: from its low 32 bits. */
        private void operand(Step.CompareBranch s, boolean first, boolean signExtend32) {
            if (first) {
                readReg(s.a(), 8);
            } else if (s.b() >= 0) {
                readReg(s.b(), 8);
            } else {
                code.loadConstant(s.imm());
            }
            if (signExtend32) {
                code.l2i().i2l();
            }
        }

        /** An operand ordered as unsigned by a signed lcmp: 32-bit zero-extended, 64-bit with its sign bit flipped. */
        private void unsigned(Step.CompareBranch s, boolean first) {
            operand(s, first, false);
            if (s.size() == 4) {
                code.loadConstant(LOW32).land();
            } else {
                code.loadConstant(Long.MIN_VALUE).lxor();
            }
        }

        /** The lazy-flag record a CMP (SUB: difference and source) or TEST (LOGIC: the AND) leaves. */
        private void recordCompare(Step.CompareBranch s) {
            long mask = s.size() == 4 ? LOW32 : -1L;
            code.aload(CPU_LOCAL);
            if (s.test()) {
                code.loadConstant(CC_LOGIC);
                operand(s, true, false);
                operand(s, false, false);
                code.land().loadConstant(mask).land();
                code.lconst_0();
            } else {
                code.loadConstant(CC_SUB);
                operand(s, true, false);
                operand(s, false, false);
                code.lsub().loadConstant(mask).land();
                operand(s, false, false);
                code.loadConstant(mask).land();
            }
            code.lconst_0().loadConstant(s.size()).invokestatic(ALU, "lazy", LAZY);
        }

        private void compareBranchThroughFlags(Step.CompareBranch s) {
            code.aload(CPU_LOCAL).loadConstant(s.cc());
            readReg(s.a(), 8);
            if (s.b() >= 0) {
                readReg(s.b(), 8);
            } else {
                code.loadConstant(s.imm());
            }
            code.loadConstant(s.size()).invokestatic(FLAGS, s.test() ? "testAndTest" : "compareAndTest", COMPARE_AND_TEST);
            Label notTaken = code.newLabel();
            code.ifeq(notTaken);
            taken(s.branchAt(), s.end() + s.disp(), null);
            code.labelBinding(notTaken);
            fallThrough(s.end());
        }

        /**
         * The taken side of the final branch at {@code at} to {@code target} (offsets): back to the top when the
         * target is the block's own start and the runtime's budget allows, else a jump (canonical check) and return.
         * {@code beforeLeavingLoop}: what a loop that stops must still do (the flag record its back edge skipped).
         */
        private void taken(int at, long target, Runnable beforeLeavingLoop) {
            if (target == (int) target && sections.containsKey((int) target)) {
                // A block of the region (the entry block itself for a loop on it). Its start is on the entry's page,
                // which was just fetched: canonical, no check needed.
                regionJump((int) target, beforeLeavingLoop);
                return;
            }
            storeRip(at); // a non-canonical target faults on the branch
            code.aload(RT).lload(RIP0).loadConstant(target).ladd().invokevirtual(RUNTIME, "jump", JUMP);
            chainExit(retired);
        }

        // ---- addresses ----

        /** Base + index * scale + displacement (or RIP-relative), wrapped at the address size: what LEA computes. */
        private void effectiveOffset(Step.Address a, int end) {
            code.loadConstant(a.disp());
            if (a.ripRelative()) {
                code.lload(RIP0).loadConstant((long) end).ladd().ladd();
            } else {
                if (a.base() >= 0) {
                    code.lload(slot(a.base())).ladd();
                }
                if (a.index() >= 0) {
                    code.lload(slot(a.index()));
                    if (a.scale() != 1) {
                        code.loadConstant(Integer.numberOfTrailingZeros(a.scale())).lshl();
                    }
                    code.ladd();
                }
            }
            if (a.addrSize() == 4) {
                code.loadConstant(LOW32).land();
            } else if (a.addrSize() == 2) {
                code.loadConstant(0xffffL).land();
            }
        }

        /** The linear address of a 64-bit mode operand: stack operands checked canonical (#SS), FS/GS bases added. */
        private void linearAddress(Step.Address a, int end) {
            effectiveOffset(a, end);
            if (a.stack()) {
                code.iconst_1().invokestatic(EXECUTOR, "stackAddress", STACK_ADDRESS);
            } else if (a.segment() == Step.Segment.FS) {
                code.aload(CPU_LOCAL).getfield(CPU, FS_BASE, CD_long).ladd();
            } else if (a.segment() == Step.Segment.GS) {
                code.aload(CPU_LOCAL).getfield(CPU, GS_BASE, CD_long).ladd();
            }
        }
    }
}
