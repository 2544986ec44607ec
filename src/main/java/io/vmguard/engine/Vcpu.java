package io.vmguard.engine;

/**
 * One virtual CPU. {@link #run()} and the register accessors are called from the vCPU's own thread;
 * {@link #requestExit()} may be called from any thread.
 */
public interface Vcpu extends AutoCloseable {
    int index();

    /**
     * Runs guest code until something needs the VMM. Guest misbehaviour never throws out of here: it
     * becomes an exit (a fault the guest must take is delivered inside the engine; what the engine
     * cannot handle is {@link VcpuExit.InternalError}).
     */
    VcpuExit run();

    Registers registers() throws EngineException;

    void setRegisters(Registers registers) throws EngineException;

    SpecialRegisters specialRegisters() throws EngineException;

    void setSpecialRegisters(SpecialRegisters registers) throws EngineException;

    long readMsr(int index) throws EngineException;

    /**
     * Lets an application processor (any vCPU but 0, which runs from creation) run from the registers set
     * here instead of waiting for INIT and a start-up IPI from the BSP, as it does from creation: for VMMs
     * and tests that start every CPU themselves. A no-op for a vCPU that runs already.
     */
    void startRunning() throws EngineException;

    void writeMsr(int index, long value) throws EngineException;

    /**
     * Guest instructions this vCPU has executed, where the engine counts them (the interpreter does;
     * KVM runs guest code on the CPU and cannot tell).
     */
    default java.util.OptionalLong instructionsExecuted() {
        return java.util.OptionalLong.empty();
    }

    /**
     * Where this vCPU's guest code stands now, for a sampling profile read from another thread (a racy read:
     * a sample, not state): its RIP, or empty when the vCPU is halted or the engine cannot tell (KVM runs
     * guest code on the CPU).
     */
    default java.util.OptionalLong sampleRip() {
        return java.util.OptionalLong.empty();
    }

    /**
     * Makes a current or the next {@link #run()} return {@link VcpuExit.Interrupted} promptly, even when
     * the guest is halted waiting for an interrupt. Safe from any thread.
     */
    void requestExit();

    /**
     * Writes this vCPU's whole architectural state (general, segment, control and debug registers, MSRs,
     * FPU/SSE, pending events) for a snapshot. Called while the vCPU is not running: it has returned
     * {@link VcpuExit.Interrupted} to a paused run loop, or never ran. The layout is the engine's own.
     */
    default void saveState(io.vmguard.snapshot.StateWriter out) throws EngineException {
        throw new EngineException("this engine cannot snapshot a vCPU");
    }

    /** Restores what {@link #saveState} wrote, before the vCPU first runs; validates every field. */
    default void restoreState(io.vmguard.snapshot.StateReader in)
            throws EngineException, io.vmguard.snapshot.SnapshotException {
        throw new EngineException("this engine cannot restore a vCPU");
    }

    @Override
    void close();
}
