package io.vmguard.iommu;

/**
 * Where refused accesses are reported, once per access. Called from the thread that made the access (a
 * vCPU or a device's own thread), holding none of the IOMMU's locks but possibly the faulting device's;
 * so an implementation must not wait for anything a device might hold, and must not block for long.
 */
@FunctionalInterface
public interface FaultSink {
    FaultSink NONE = fault -> { };

    void fault(IommuFault fault);
}
