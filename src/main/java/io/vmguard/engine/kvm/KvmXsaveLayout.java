package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_xsave (asm/kvm.h): the guest's XSAVE area in the host's standard (uncompacted) format, x87,
 * SSE (MXCSR included, which kvm_fpu lacks) and AVX state. {@link #LAYOUT} is the fixed 4 KiB of
 * KVM_GET_XSAVE; KVM_GET_XSAVE2 writes as many bytes as KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM
 * says, at least these 4 KiB (more once a dynamic feature such as AMX is enabled).
 */
final class KvmXsaveLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(1024, JAVA_INT).withName("region")).withName("kvm_xsave");

    private KvmXsaveLayout() {}
}
