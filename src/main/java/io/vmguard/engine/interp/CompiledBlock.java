package io.vmguard.engine.interp;

import io.vmguard.engine.interp.cpu.GuestFault;

/**
 * A block compiled to JVM bytecode by the JIT ({@code io.vmguard.engine.interp.jit}): a hidden class of this
 * package. {@link #run} does what {@link InterpVcpu}'s block loop does with the block's instructions, from RIP at
 * the block's start, and leaves RIP and all state exactly as the interpreter would.
 */
interface CompiledBlock {
    /**
     * Runs the block (and, for a block that loops on itself, further rounds while {@link JitRuntime#backEdge}
     * allows); returns the guest instructions retired by the last round ({@link JitRuntime#retired} holds the
     * earlier rounds'). Faults unwind as {@link GuestFault} with RIP on the faulting instruction.
     */
    int run(JitRuntime runtime);
}
