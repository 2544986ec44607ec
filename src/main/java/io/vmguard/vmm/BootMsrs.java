package io.vmguard.vmm;

import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;

/** Model-specific registers the boot vCPU starts with, as Firecracker sets them. */
final class BootMsrs {
    private static final int IA32_MISC_ENABLE = 0x1a0;
    /** Fast-string operations enabled, as firmware leaves them; Linux expects it. */
    private static final long MISC_ENABLE_FAST_STRING = 1;

    private BootMsrs() {}

    static void applyTo(Vcpu vcpu) throws EngineException {
        vcpu.writeMsr(IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING);
    }
}
