package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_irqchip (linux/kvm.h): which in-kernel interrupt controller, and its state. In C {@code chip}
 * is a union of 512 reserved bytes, kvm_pic_state and kvm_ioapic_state; vmguard keeps the 512 bytes whole.
 */
final class KvmIrqchipLayout {
    static final int STATE_BYTES = 512;

    static final int PIC_MASTER = 0;
    static final int PIC_SLAVE = 1;
    static final int IOAPIC = 2;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("chip_id"),
            JAVA_INT.withName("pad"),
            MemoryLayout.sequenceLayout(STATE_BYTES, JAVA_BYTE).withName("chip")).withName("kvm_irqchip");

    private static final long CHIP_ID = LAYOUT.byteOffset(groupElement("chip_id"));
    static final long CHIP = LAYOUT.byteOffset(groupElement("chip"));

    private KvmIrqchipLayout() {}

    /** An irqchip argument for {@code chipId}, state zeroed (KVM_GET_IRQCHIP fills it). */
    static void select(MemorySegment irqchip, int chipId) {
        irqchip.fill((byte) 0);
        irqchip.set(JAVA_INT, CHIP_ID, chipId);
    }

    static MemorySegment state(MemorySegment irqchip) {
        return irqchip.asSlice(CHIP, STATE_BYTES);
    }
}
