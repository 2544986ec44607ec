package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_enable_cap (linux/kvm.h), the argument of KVM_ENABLE_CAP: a capability and up to four arguments. */
final class KvmEnableCapLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("cap"),
            JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(4, JAVA_LONG).withName("args"),
            MemoryLayout.sequenceLayout(64, JAVA_BYTE).withName("pad")).withName("kvm_enable_cap");

    private static final long CAP = LAYOUT.byteOffset(groupElement("cap"));
    private static final long ARGS = LAYOUT.byteOffset(groupElement("args"));

    private KvmEnableCapLayout() {}

    /** Fills a zeroed segment: flags, the other arguments and pad stay 0, as KVM requires. */
    static void write(MemorySegment enable, KvmCapability capability, long firstArgument) {
        enable.set(JAVA_INT, CAP, capability.number());
        enable.set(JAVA_LONG, ARGS, firstArgument);
    }
}
