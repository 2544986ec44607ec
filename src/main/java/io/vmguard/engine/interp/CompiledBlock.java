package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.GuestFault;

/**
 * A block compiled to JVM bytecode by the JIT ({@code io.vmguard.engine.interp.jit}), with the blocks of its region:
 * a hidden class of this package. {@link #run} does what {@link InterpVcpu}'s block loop does with the blocks'
 * instructions, from RIP at the block's start, and leaves RIP and all state exactly as the interpreter would.
 */
interface CompiledBlock {
    /**
     * Runs the block (and further blocks of its region, going round its loops while {@link JitRuntime#backEdge}
     * allows); returns the guest instructions retired by the last block it ran ({@link JitRuntime#retired} holds
     * the others'). Faults unwind as {@link GuestFault} with RIP on the faulting instruction. {@link
     * JitRuntime#chain} says whether it left by a direct exit the vCPU may chain.
     */
    int run(JitRuntime runtime);
}
