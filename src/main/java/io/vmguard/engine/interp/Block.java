package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.decode.Instruction;

/**
 * A run of decoded instructions that execute one after another: it starts where control arrives and
 * ends at the first instruction that may transfer control or change how the rest must run (a branch, a
 * system instruction, port I/O, POPF), at the end of its page, or at {@link #MAX_LENGTH} instructions.
 * The vCPU runs a block without a fetch or an interrupt check between its instructions, and leaves it
 * early whenever RIP does not land on the next one (a REP instruction not yet done, a fault).
 */
final class Block {
    /** Bounds how long a block can keep interrupts and timers waiting. */
    static final int MAX_LENGTH = 64;

    final Instruction[] instructions;
    /**
     * For each instruction, where the next one starts, as an offset from the block's first byte: RIP must
     * equal the block's start plus this for the run to go on (blocks are entered at their linear address,
     * which may differ from one mapping of the page to another).
     */
    final int[] ends;
    /** The mode (default operand size) it was decoded for: it runs in no other ({@link CpuState#codeBits}). */
    final int codeBits;

    /**
     * The block compiled by the JIT, once it has been (published by the compiler thread; null while interpreted).
     * It goes with the block: a write that drops the block from the code cache drops its translation too.
     */
    volatile CompiledBlock compiled;
    /** Executions counted toward the JIT's threshold (racy between vCPUs on purpose: a hint, not a count). */
    int hits;
    /** {@link JitBridge}'s state for this block: cold, queued, or never to be compiled. */
    byte jitState;

    Block(Instruction[] instructions, int[] ends) {
        this.instructions = instructions;
        this.ends = ends;
        this.codeBits = instructions[0].codeBits;
    }

    /** A block of one instruction, for code the cache cannot hold (outside RAM, or straddling a page). */
    static Block single(Instruction insn) {
        return new Block(new Instruction[] {insn}, new int[] {insn.length});
    }
}
