package io.vmguard.api.model;

/** {@code PUT /actions}. */
public record InstanceAction(Type actionType) {
    /** Firecracker's names, exactly. */
    public enum Type { InstanceStart, SendCtrlAltDel, FlushMetrics }

    public InstanceAction {
        Fields.required(actionType, "action_type");
    }
}
