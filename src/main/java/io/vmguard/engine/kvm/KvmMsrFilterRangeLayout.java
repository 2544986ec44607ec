package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_msr_filter_range (asm/kvm.h): {@code nmsrs} MSRs from {@code base}, one bit each in the
 * bitmap {@code bitmap} points to (1 allows, 0 denies) for the accesses {@code flags} names.
 */
final class KvmMsrFilterRangeLayout {
    static final int FILTER_READ = 1;
    static final int FILTER_WRITE = 1 << 1;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("nmsrs"),
            JAVA_INT.withName("base"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("bitmap")).withName("kvm_msr_filter_range");

    private static final long FLAGS = LAYOUT.byteOffset(groupElement("flags"));
    private static final long NMSRS = LAYOUT.byteOffset(groupElement("nmsrs"));
    private static final long BASE = LAYOUT.byteOffset(groupElement("base"));
    private static final long BITMAP = LAYOUT.byteOffset(groupElement("bitmap"));

    private KvmMsrFilterRangeLayout() {}

    /** {@code bitmap} must stay alive until KVM_X86_SET_MSR_FILTER returns (KVM copies it). */
    static void write(MemorySegment range, int flags, int base, int count, MemorySegment bitmap) {
        range.set(JAVA_INT, FLAGS, flags);
        range.set(JAVA_INT, NMSRS, count);
        range.set(JAVA_INT, BASE, base);
        range.set(ADDRESS, BITMAP, bitmap);
    }
}
