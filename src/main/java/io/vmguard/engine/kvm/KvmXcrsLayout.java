package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct kvm_xcrs (asm/kvm.h): the extended control registers (XCR0, which XSETBV writes). */
final class KvmXcrsLayout {
    /** KVM_MAX_XCRS. */
    static final int MAX_XCRS = 16;

    /** struct kvm_xcr. */
    static final StructLayout XCR = MemoryLayout.structLayout(
            JAVA_INT.withName("xcr"),
            JAVA_INT.withName("reserved"),
            JAVA_LONG.withName("value")).withName("kvm_xcr");

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("nr_xcrs"),
            JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(MAX_XCRS, XCR).withName("xcrs"),
            MemoryLayout.sequenceLayout(16, JAVA_LONG).withName("padding")).withName("kvm_xcrs");

    private KvmXcrsLayout() {}
}
