package io.vmguard.devices;

/**
 * How a device asks the VMM to end the run: the guest powered off with a status (vmguard's exit port),
 * or asked for a reset (i8042 pulse, which vmguard, like Firecracker, treats as the end of the run).
 * Implemented by {@code vmm}; devices never see the VM itself.
 */
public interface PowerControl {
    void powerOff(int status);

    void reset();
}
