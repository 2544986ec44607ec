package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.MemoryLayout.PathElement.sequenceElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_msr_filter (asm/kvm.h), the argument of KVM_X86_SET_MSR_FILTER: a default action and up to
 * 16 ranges. A filter whose ranges are all empty removes filtering.
 */
final class KvmMsrFilterLayout {
    static final int DEFAULT_ALLOW = 0;
    static final int MAX_RANGES = 16;
    /** KVM_MSR_FILTER_MAX_BITMAP_SIZE: the most bitmap bytes one range may have. */
    static final int MAX_BITMAP_BYTES = 0x600;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"),
            MemoryLayout.paddingLayout(4),
            MemoryLayout.sequenceLayout(MAX_RANGES, KvmMsrFilterRangeLayout.LAYOUT).withName("ranges")).withName("kvm_msr_filter");

    private static final long FLAGS = LAYOUT.byteOffset(groupElement("flags"));

    private KvmMsrFilterLayout() {}

    static void setFlags(MemorySegment filter, int flags) {
        filter.set(JAVA_INT, FLAGS, flags);
    }

    static MemorySegment range(MemorySegment filter, int i) {
        return filter.asSlice(LAYOUT.byteOffset(groupElement("ranges"), sequenceElement(i)), KvmMsrFilterRangeLayout.LAYOUT.byteSize());
    }
}
