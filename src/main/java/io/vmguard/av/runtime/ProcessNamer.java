package io.vmguard.av.runtime;

import java.util.Optional;

/**
 * Names the guest process whose page tables a CR3 value selects, from the vCPU's own thread while the guest
 * waits (so it must read guest memory directly and quickly, never wait for the VM). Empty when unknown: early
 * in boot, or for kernel code.
 */
@FunctionalInterface
public interface ProcessNamer {
    Optional<GuestProcess> processFor(long cr3);

    record GuestProcess(int pid, String name) {}

    ProcessNamer NONE = cr3 -> Optional.empty();
}
