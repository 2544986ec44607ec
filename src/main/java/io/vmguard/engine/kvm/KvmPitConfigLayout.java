package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_pit_config (linux/kvm.h): KVM_CREATE_PIT2's flags, padded to 64 bytes. */
final class KvmPitConfigLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("flags"),
            MemoryLayout.sequenceLayout(15, JAVA_INT).withName("pad")).withName("kvm_pit_config");

    private static final long FLAGS = LAYOUT.byteOffset(groupElement("flags"));

    private KvmPitConfigLayout() {}

    /** Flags 0: no KVM_PIT_SPEAKER_DUMMY, so port 0x61 (the speaker) exits to the VMM like any port. */
    static void write(MemorySegment config, int flags) {
        config.fill((byte) 0);
        config.set(JAVA_INT, FLAGS, flags);
    }
}
