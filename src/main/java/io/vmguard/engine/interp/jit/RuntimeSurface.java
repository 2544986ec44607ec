package io.vmguard.engine.interp.jit;

import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;

import static java.lang.constant.ConstantDescs.CD_boolean;
import static java.lang.constant.ConstantDescs.CD_int;
import static java.lang.constant.ConstantDescs.CD_long;
import static java.lang.constant.ConstantDescs.CD_void;

/**
 * Everything of the interpreter that generated code touches, by name: the one place that must change with it.
 * Generated classes are hidden classes of the interpreter's root package, so the members of JitRuntime and
 * CompiledBlock stay package-private there; those of the cpu, mmu, decode and execute packages it touches are
 * public (the sub-packages use them too). The interpreter's tests run every emitted form against the
 * interpreter, so a rename or a narrowed modifier fails them.
 */
final class RuntimeSurface {
    private RuntimeSurface() {}

    static final String PACKAGE = "io.vmguard.engine.interp";
    static final ClassDesc RUNTIME = ClassDesc.of(PACKAGE, "JitRuntime");
    static final ClassDesc COMPILED = ClassDesc.of(PACKAGE, "CompiledBlock");
    static final ClassDesc CPU = ClassDesc.of(PACKAGE + ".cpu", "CpuState");
    static final ClassDesc MMU = ClassDesc.of(PACKAGE + ".mmu", "Mmu");
    static final ClassDesc ALU = ClassDesc.of(PACKAGE + ".cpu", "Alu");
    static final ClassDesc FLAGS = ClassDesc.of(PACKAGE + ".cpu", "Flags");
    static final ClassDesc EXECUTOR = ClassDesc.of(PACKAGE + ".execute", "Executor");
    static final ClassDesc INSTRUCTION = ClassDesc.of(PACKAGE + ".decode", "Instruction");
    static final ClassDesc JIT_SSE = ClassDesc.of(PACKAGE, "JitSse");
    static final ClassDesc GUEST_FAULT = ClassDesc.of(PACKAGE + ".cpu", "GuestFault");
    static final ClassDesc LONG_ARRAY = CD_long.arrayType();

    /** {@code int CompiledBlock.run(JitRuntime)}: guest instructions retired by this entry (see JitRuntime). */
    static final String RUN = "run";
    static final MethodTypeDesc RUN_TYPE = MethodTypeDesc.of(CD_int, RUNTIME);

    // JitRuntime
    static final String RT_CPU = "cpu", RT_MMU = "mmu", RT_RETIRED = "retired", RT_CHAIN = "chain";
    static final MethodTypeDesc EXECUTE = MethodTypeDesc.of(CD_void, INSTRUCTION);
    static final MethodTypeDesc EXECUTE_WITH_OPERAND = MethodTypeDesc.of(CD_void, INSTRUCTION, CD_long);
    static final MethodTypeDesc LEAVE = MethodTypeDesc.of(CD_boolean);
    static final MethodTypeDesc JUMP = MethodTypeDesc.of(CD_void, CD_long);
    static final MethodTypeDesc BACK_EDGE = MethodTypeDesc.of(CD_boolean);
    /** {@code long readForWrite(linear, size)}: a read-modify-write's destination, read with write intent. */
    static final MethodTypeDesc READ_FOR_WRITE = MethodTypeDesc.of(CD_long, CD_long, CD_int);

    // CpuState
    static final String GPR = "gpr", RIP = "rip", FS_BASE = "fsBase", GS_BASE = "gsBase";

    // Alu, Flags, Executor (static)
    static final MethodTypeDesc LAZY = MethodTypeDesc.of(CD_void, CPU, CD_int, CD_long, CD_long, CD_long, CD_int);
    static final MethodTypeDesc SHIFT = MethodTypeDesc.of(CD_long, CPU, CD_int, CD_long, CD_long, CD_int);
    static final MethodTypeDesc COMPARE_AND_TEST = MethodTypeDesc.of(CD_boolean, CPU, CD_int, CD_long, CD_long, CD_int);
    static final MethodTypeDesc IMUL = MethodTypeDesc.of(CD_long, CPU, CD_long, CD_long, CD_int);
    static final MethodTypeDesc CONDITION = MethodTypeDesc.of(CD_boolean, CPU, CD_int);
    static final MethodTypeDesc STACK_ADDRESS = MethodTypeDesc.of(CD_long, CD_long, CD_int);
    /** {@code Alu.inc}, {@code Alu.dec}: (cpu, value, size) to the result, CF kept. */
    /** {@code Alu.binary(cpu, op, a, b, size)}: ADC and SBB, which read CF. */
    static final MethodTypeDesc BINARY = MethodTypeDesc.of(CD_long, CPU, CD_int, CD_long, CD_long, CD_int);
    static final MethodTypeDesc INC_DEC = MethodTypeDesc.of(CD_long, CPU, CD_long, CD_int);
    /** {@code Executor.canonical(address)}. */
    static final MethodTypeDesc CANONICAL = MethodTypeDesc.of(CD_boolean, CD_long);
    /** {@code GuestFault.gp()}: #GP(0), thrown by the caller. */
    static final MethodTypeDesc GP = MethodTypeDesc.of(GUEST_FAULT);

    // JitSse (static): the native SSE2 forms and their guards
    static final MethodTypeDesc SSE_ENABLED = MethodTypeDesc.of(CD_boolean, CPU);
    static final MethodTypeDesc SSE_ARITHMETIC = MethodTypeDesc.of(CD_boolean, CPU, CD_int, CD_int, CD_long);
    static final MethodTypeDesc SSE_WITH_VALUE = MethodTypeDesc.of(CD_boolean, CPU, CD_int, CD_long);
    static final MethodTypeDesc SSE_MOVE = MethodTypeDesc.of(CD_boolean, CPU, CD_int, CD_int);
    static final MethodTypeDesc SSE_LOAD = MethodTypeDesc.of(CD_void, CPU, CD_int, CD_long);
    static final MethodTypeDesc SSE_LOW = MethodTypeDesc.of(CD_long, CPU, CD_int);

    // Mmu (the TLB fast path; misses, MMIO and pages that see writes take its slow path)
    static final MethodTypeDesc READ64 = MethodTypeDesc.of(CD_long, CD_long);
    static final MethodTypeDesc READ_INT = MethodTypeDesc.of(CD_int, CD_long);
    static final MethodTypeDesc WRITE16 = MethodTypeDesc.of(CD_void, CD_long, CD_int);
    static final MethodTypeDesc WRITE64 = MethodTypeDesc.of(CD_void, CD_long, CD_long);
    static final MethodTypeDesc WRITE32 = MethodTypeDesc.of(CD_void, CD_long, CD_int);
    static final MethodTypeDesc WRITE8 = WRITE32;

    // Flags.ccOp values the lazy-flag record uses (Flags.ADD, SUB, LOGIC, SHIFT)
    static final int CC_ADD = 1, CC_SUB = 3, CC_LOGIC = 5, CC_SHIFT = 8;
    /** Alu's operation numbers for ADC and SBB. */
    static final int ALU_ADC = 2, ALU_SBB = 3;
    /** RSP's and RCX's register numbers (the stack steps, a shift's count in CL). */
    static final int RSP = 4, RCX = 1;
    /** RFLAGS.OF's bit: a SHIFT record's source holds CF and OF. */
    static final int OF_SHIFT = 11;
}
