package io.vmguard.api.model;

/** {@code PATCH /vm}. */
public record VmStateChange(Target state) {
    public enum Target { Paused, Resumed }

    public VmStateChange {
        Fields.required(state, "state");
    }
}
