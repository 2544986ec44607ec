package io.vmguard.engine.kvm;

/**
 * How this host's KVM hands out a vCPU's FPU state, decided once per VM: the XSAVE area (its size, and
 * whether KVM_GET_XSAVE2 must fetch it) with XCR0 beside it, or, on a CPU without XSAVE, kvm_fpu.
 */
record KvmStateFormat(int xsaveBytes, boolean xsave2, boolean xcrs) {
    /** A host without XSAVE: KVM_GET_FPU, which loses MXCSR on many kernels. */
    static final KvmStateFormat FPU_ONLY = new KvmStateFormat(0, false, false);

    boolean xsave() {
        return xsaveBytes > 0;
    }
}
