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

    void writeMsr(int index, long value) throws EngineException;

    /**
     * Guest instructions this vCPU has executed, where the engine counts them (the interpreter does;
     * KVM runs guest code on the CPU and cannot tell).
     */
    default java.util.OptionalLong instructionsExecuted() {
        return java.util.OptionalLong.empty();
    }

    /**
     * Makes a current or the next {@link #run()} return {@link VcpuExit.Interrupted} promptly, even when
     * the guest is halted waiting for an interrupt. Safe from any thread.
     */
    void requestExit();

    @Override
    void close();
}
