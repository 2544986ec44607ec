package io.vmguard.engine;

import io.vmguard.memory.GuestMemory;

/**
 * A CPU engine: something that runs x86-64 guest code over guest memory. KVM (hardware virtualization
 * through /dev/kvm) and the interpreter implement it; {@code vmm} picks one and never asks which.
 */
public interface Engine {
    /** Short name as used on the command line: "kvm", "interp". */
    String name();

    /** Creates a VM over {@code memory}; the engine may register the memory with a hypervisor. */
    VirtualMachine createVm(GuestMemory memory) throws EngineException;
}
