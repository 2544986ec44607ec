package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_msi (linux/kvm.h), the argument of KVM_SIGNAL_MSI: the message's address in two halves, its
 * data, flags (KVM_MSI_VALID_DEVID only, which x86 does not use) and a device id for interrupt
 * remappers that need one.
 */
final class KvmMsiLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("address_lo"),
            JAVA_INT.withName("address_hi"),
            JAVA_INT.withName("data"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("devid"),
            MemoryLayout.sequenceLayout(12, JAVA_BYTE).withName("pad")).withName("kvm_msi");

    private static final long ADDRESS_LO = LAYOUT.byteOffset(groupElement("address_lo"));
    private static final long ADDRESS_HI = LAYOUT.byteOffset(groupElement("address_hi"));
    private static final long DATA = LAYOUT.byteOffset(groupElement("data"));

    private KvmMsiLayout() {}

    /** Fills a zeroed segment: flags, devid and pad stay 0, as KVM requires of the ones it does not use. */
    static void write(MemorySegment msi, long address, int data) {
        msi.set(JAVA_INT, ADDRESS_LO, (int) address);
        msi.set(JAVA_INT, ADDRESS_HI, (int) (address >>> 32));
        msi.set(JAVA_INT, DATA, data);
    }
}
