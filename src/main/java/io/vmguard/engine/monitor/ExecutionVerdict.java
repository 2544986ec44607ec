package io.vmguard.engine.monitor;

/**
 * What an observer answers to {@link MonitorEvent.CodeExecution}: whether the instruction about to run from a
 * frame whose content it has not yet approved may run. Several observers combine as {@link #combine} says.
 */
public enum ExecutionVerdict {
    /**
     * Run it. The frame is approved: instructions fetched from it run without asking again until its content
     * changes (or a plan with {@code codeExecutions} is armed with a new listener).
     */
    RUN,
    /**
     * The instruction does not run: the guest gets #GP(0) with RIP on it, as if it had faulted (Linux sends a
     * user process SIGSEGV; in the kernel it is an oops). Nothing from the frame is approved or cached: its
     * next execution asks again.
     */
    REFUSE,
    /**
     * Nothing runs: the vCPU returns to the VMM's run loop at an instruction boundary (the engine's
     * {@code VcpuExit.Interrupted}), RIP on the instruction. Meant with a pause the listener requested: the VMM
     * parks the vCPU, and when it resumes, the frame is asked about again. Without a pause the vCPU simply
     * runs again and asks again at once.
     */
    RETRY;

    /** Several observers' answers as one: REFUSE wins over RETRY, RETRY over RUN. */
    public static ExecutionVerdict combine(ExecutionVerdict a, ExecutionVerdict b) {
        return a.rank() >= b.rank() ? a : b;
    }

    private int rank() {
        return switch (this) {
            case RUN -> 0;
            case RETRY -> 1;
            case REFUSE -> 2;
        };
    }
}
