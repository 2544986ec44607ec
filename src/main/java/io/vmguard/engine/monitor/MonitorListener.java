package io.vmguard.engine.monitor;

/**
 * Told of each armed event, on the vCPU's own thread, while the guest waits: keep it short (record, compare,
 * hand heavy work to another thread). It must not block on the VM's own pause (the vCPU it runs on is the one
 * a pause waits for); to stop the guest at once it asks the VMM for a pause that does not wait.
 */
@FunctionalInterface
public interface MonitorListener {
    void onEvent(MonitorEvent event);

    /**
     * Asked, when the plan armed {@code codeExecutions}, before the first instruction from a frame whose
     * content has changed since it was last approved (or was never approved) runs; the guest waits for the
     * answer, so the answer should come from a cache keyed by the frame's content whenever it can. What the
     * verdicts do is in {@link ExecutionVerdict}; an engine may ask again about content it asked about before
     * (after a snapshot restore, or a re-arm with a new listener), so answers must not count questions. The event is not also passed to {@link #onEvent}: this
     * default, for observers that only watch, does that and lets the code run.
     */
    default ExecutionVerdict beforeExecution(MonitorEvent.CodeExecution event) {
        onEvent(event);
        return ExecutionVerdict.RUN;
    }
}
