package io.vmguard.engine.monitor;

/**
 * Told of each armed event, on the vCPU's own thread, while the guest waits: keep it short (record, compare,
 * hand heavy work to another thread). It must not block on the VM's own pause (the vCPU it runs on is the one
 * a pause waits for); to stop the guest at once it asks the VMM for a pause that does not wait.
 */
@FunctionalInterface
public interface MonitorListener {
    void onEvent(MonitorEvent event);
}
