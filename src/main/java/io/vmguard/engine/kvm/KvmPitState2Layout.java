package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_pit_state2 (asm/kvm.h): the in-kernel i8254's three channels and its flags (HPET legacy
 * routing, speaker data). {@code count_load_time} is host time: KVM_SET_PIT2 ignores it and restarts
 * each channel's count from the moment of the call.
 */
final class KvmPitState2Layout {
    /** struct kvm_pit_channel_state. */
    static final StructLayout CHANNEL = MemoryLayout.structLayout(
            JAVA_INT.withName("count"),
            JAVA_SHORT.withName("latched_count"),
            JAVA_BYTE.withName("count_latched"),
            JAVA_BYTE.withName("status_latched"),
            JAVA_BYTE.withName("status"),
            JAVA_BYTE.withName("read_state"),
            JAVA_BYTE.withName("write_state"),
            JAVA_BYTE.withName("write_latch"),
            JAVA_BYTE.withName("rw_mode"),
            JAVA_BYTE.withName("mode"),
            JAVA_BYTE.withName("bcd"),
            JAVA_BYTE.withName("gate"),
            JAVA_LONG.withName("count_load_time")).withName("kvm_pit_channel_state");

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(3, CHANNEL).withName("channels"),
            JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(9, JAVA_INT).withName("reserved")).withName("kvm_pit_state2");

    private KvmPitState2Layout() {}
}
