package io.vmguard.av.runtime;

/** What the runtime scanner does when guest code matches a signature. */
public enum RuntimeAction {
    /** Report it (an {@code av} alarm) and let it run. */
    ALERT,
    /**
     * Report it and stop it: user code never runs (the instruction faults, and the guest's kernel ends the
     * process); kernel code cannot be refused without bringing the kernel down, so the VM is paused instead.
     */
    BLOCK,
    /** Report it and pause the VM before the code runs, for inspection; it runs if the VM is resumed. */
    PAUSE
}
