package io.vmguard.engine.kvm;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_lapic_state (asm/kvm.h): the local APIC's 1 KiB register page as KVM_GET_LAPIC reports it
 * (xAPIC layout, one register every 16 bytes; the timer's current count is computed at the call).
 */
final class KvmLapicStateLayout {
    static final int REGISTER_PAGE_BYTES = 1024;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(REGISTER_PAGE_BYTES, JAVA_BYTE).withName("regs")).withName("kvm_lapic_state");

    private KvmLapicStateLayout() {}
}
