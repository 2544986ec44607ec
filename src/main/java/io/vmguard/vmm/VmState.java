package io.vmguard.vmm;

/** Where a VM is in its life. Firecracker's API names are in {@link #apiName()}. */
public enum VmState {
    /** Built (or restored) but no vCPU has run yet. */
    NOT_STARTED("Not started"),
    RUNNING("Running"),
    /** Every vCPU parked at an instruction boundary, device backends quiet: a snapshot may be taken. */
    PAUSED("Paused"),
    /** Powered off, reset, or failed: nothing will run again. */
    STOPPED("Stopped");

    private final String apiName;

    VmState(String apiName) {
        this.apiName = apiName;
    }

    public String apiName() {
        return apiName;
    }
}
