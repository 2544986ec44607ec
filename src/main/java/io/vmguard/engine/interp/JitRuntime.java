package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.GuestFault;
import io.vmguard.engine.interp.decode.Instruction;
import io.vmguard.engine.interp.decode.Op;
import io.vmguard.engine.interp.execute.Executor;
import io.vmguard.engine.interp.mmu.Mmu;
import io.vmguard.engine.interp.platform.Doorbell;
import io.vmguard.engine.interp.platform.Platform;

/**
 * What compiled blocks reach of one vCPU: its state, its MMU, the interpreter for instructions the JIT does not
 * emit itself, and the checks the interpreter's loop makes between instructions and between blocks. The JIT's
 * whole view of the interpreter is this class and the members {@code jit.RuntimeSurface} names.
 */
final class JitRuntime {
    /**
     * Instructions a compiled region going round its loops, or a chain of compiled blocks, may run before the
     * vCPU's loop looks again (timers, exits).
     */
    static final int LOOP_BUDGET = 1024;

    final CpuState cpu;
    final Mmu mmu;
    private final Executor executor;
    private final Executor.Platform vcpu;
    private final Doorbell doorbell;
    private final Platform platform;
    /** Guest instructions of the blocks a region completed in this run, but the last (the vCPU resets and adds it). */
    int retired;
    /**
     * Set by a compiled block that left by a direct branch (taken or not) or by falling off its end, RIP on the
     * successor's first instruction, with nothing asking for a look: the vCPU may run the successor's translation
     * next without going back through its block loop (see {@code InterpVcpu.runBlock}). Cleared before each run.
     */
    boolean chain;

    /**
     * @param doorbell the vCPU's attention word (an exit, a line, another CPU, device-written code, new code pages)
     * @param platform whose requested interrupt also stops a loop; both are looked at on every back edge
     */
    JitRuntime(CpuState cpu, Mmu mmu, Executor executor, Executor.Platform vcpu, Doorbell doorbell, Platform platform) {
        this.cpu = cpu;
        this.mmu = mmu;
        this.executor = executor;
        this.vcpu = vcpu;
        this.doorbell = doorbell;
        this.platform = platform;
    }

    /**
     * With {@code -Dvmguard.jit.stats=true}: how often compiled blocks handed each {@link Op} to the interpreter
     * (the profile that says what to emit natively next). A static final: C2 drops the counting when it is off.
     */
    static final boolean COUNT_OPS = Boolean.getBoolean("vmguard.jit.stats");
    static final java.util.concurrent.atomic.AtomicLongArray INTERPRETED = new java.util.concurrent.atomic.AtomicLongArray(256);
    /** The SSE ones among them, by mandatory prefix (none, 66, F2, F3) and opcode: 256 * prefix + opcode. */
    static final java.util.concurrent.atomic.AtomicLongArray INTERPRETED_SSE = new java.util.concurrent.atomic.AtomicLongArray(1024);

    /**
     * The same by form (see {@link #form}): which operand kinds of an op are handed over, the profile's detail.
     */
    static final java.util.concurrent.ConcurrentHashMap<Integer, java.util.concurrent.atomic.LongAdder> INTERPRETED_FORMS =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** An instruction's form for the statistics: op, sub-operation, operand size, memory operand, count in CL. */
    static int form(Instruction insn) {
        return (insn.op & 0xff) | (insn.sub & 0xff) << 8 | (insn.opSize & 0xf) << 16 | (insn.isMemory() ? 1 << 20 : 0)
                | (insn.op == Op.SHIFT && insn.imm < 0 ? 1 << 21 : 0);
    }

    /** {@link #form} as text: op=N sub=N size=N, then "mem" and "cl" where they apply. */
    static String describeForm(int form) {
        return "op" + (form & 0xff) + "/" + (form >> 8 & 0xff) + "/" + (form >> 16 & 0xf)
                + ((form & 1 << 20) != 0 ? "/mem" : "") + ((form & 1 << 21) != 0 ? "/cl" : "");
    }

    private static void count(Instruction insn) {
        INTERPRETED.incrementAndGet(insn.op & 0xff);
        INTERPRETED_FORMS.computeIfAbsent(form(insn), k -> new java.util.concurrent.atomic.LongAdder()).increment();
        if (insn.op == Op.SSE) {
            int prefix = switch (insn.mandatoryPrefix) {
                case 0x66 -> 1;
                case 0xf2 -> 2;
                case 0xf3 -> 3;
                default -> 0;
            };
            INTERPRETED_SSE.incrementAndGet(256 * prefix + (insn.opcode & 0xff));
        }
    }

    /** One instruction, as the interpreter's loop runs it. */
    void execute(Instruction insn) {
        if (COUNT_OPS) {
            count(insn);
        }
        if (!executor.executeHot(insn)) {
            executor.execute(insn);
        }
    }

    /** One SSE instruction whose m64 operand the compiled block read already (see JitSse), as the interpreter runs it. */
    void executeWithOperand(Instruction insn, long m64) {
        if (COUNT_OPS) {
            count(insn);
        }
        executor.executeWithOperand(insn, m64);
    }

    /**
     * The destination of a read-modify-write the compiled block does itself, read with write intent as the
     * interpreter's Executor reads it ({@code Mmu.readForWrite}): a page the write would fault on faults here,
     * before any state changes. LOCK-prefixed forms never come here (the interpreter runs them).
     */
    long readForWrite(long linear, int size) {
        return mmu.readForWrite(linear, size);
    }

    /** Whether the vCPU asked for a look before the next instruction (device I/O, a code write, a monitor). */
    boolean leave() {
        return vcpu.attentionNeeded();
    }

    /** A near branch in 64-bit mode: #GP(0) for a non-canonical target, RIP still on the branch. */
    void jump(long target) {
        if (!Executor.canonical(target)) {
            throw GuestFault.gp();
        }
        cpu.rip = target;
    }

    /**
     * Whether a region may take a backward branch inside itself (go round a loop) again: the budget, then
     * {@link #mayGoOn}. Small methods of final classes, not an interface's, so that C1 (which
     * compiles the generated code, see the launcher; it inlines methods of up to 35 bytes of bytecode) inlines the
     * whole look into the loop.
     */
    boolean backEdge() {
        return retired < LOOP_BUDGET && mayGoOn();
    }

    /** What stops a loop or a chain besides its budget: the doorbell, or an interrupt requested by the platform. */
    boolean mayGoOn() {
        return !doorbell.rung() && !platform.interruptRequested();
    }
}
