package io.vmguard.engine;

import io.vmguard.memory.GuestMemory;

/**
 * A CPU engine: something that runs x86-64 guest code over guest memory. KVM (hardware virtualization
 * through /dev/kvm) and the interpreter implement it; {@code vmm} picks one and never asks which.
 */
public interface Engine {
    /** Short name as used on the command line: "kvm", "interp". */
    String name();

    /**
     * Whether guest code runs at the host CPU's own speed (KVM) rather than emulated (the interpreter): boot
     * work the guest does quickly itself (a kernel's decompression) is then left to it.
     */
    default boolean runsGuestCodeNatively() {
        return false;
    }

    /** Creates a VM over {@code memory}; the engine may register the memory with a hypervisor. */
    VirtualMachine createVm(GuestMemory memory) throws EngineException;
}
