package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_clock_data (linux/kvm.h): the VM's kvmclock, nanoseconds of guest time. KVM_GET_CLOCK also
 * reports host realtime and TSC when its flags say so; vmguard only keeps {@code clock}.
 */
final class KvmClockDataLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("clock"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("pad0"),
            JAVA_LONG.withName("realtime"),
            JAVA_LONG.withName("host_tsc"),
            MemoryLayout.sequenceLayout(4, JAVA_INT).withName("pad")).withName("kvm_clock_data");

    private static final long CLOCK = LAYOUT.byteOffset(groupElement("clock"));

    private KvmClockDataLayout() {}

    static long clock(MemorySegment data) {
        return data.get(JAVA_LONG, CLOCK);
    }

    /** Sets {@code clock} with no flags (no KVM_CLOCK_REALTIME: guest time continues from {@code clock}). */
    static void write(MemorySegment data, long clock) {
        data.fill((byte) 0);
        data.set(JAVA_LONG, CLOCK, clock);
    }
}
