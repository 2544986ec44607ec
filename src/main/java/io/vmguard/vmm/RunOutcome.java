package io.vmguard.vmm;

/** How a VM's run ended. */
public sealed interface RunOutcome {
    /** The guest powered off through vmguard's exit port with this status (0-255). */
    record PoweredOff(int status) implements RunOutcome {}

    /** The guest asked for a reset (i8042, triple fault): like Firecracker, vmguard ends the run. */
    record Reset(String reason) implements RunOutcome {}

    /** The VM could not go on: an engine error or a guest state the VMM cannot continue from. */
    record Failed(String reason) implements RunOutcome {}

    /** The process exit status this outcome maps to. */
    default int exitStatus() {
        return switch (this) {
            case PoweredOff off -> off.status();
            case Reset reset -> 0;
            case Failed failed -> 1;
        };
    }
}
