package io.vmguard.vmi;

import java.util.List;

/**
 * What one introspection pass sees: guest-physical memory and every vCPU's state, taken while the vCPUs
 * were held at instruction boundaries, so registers and memory belong to one moment.
 */
public interface GuestView {
    PhysicalMemory memory();

    List<VcpuState> vcpus();
}
