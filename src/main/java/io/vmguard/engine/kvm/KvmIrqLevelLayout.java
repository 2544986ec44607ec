package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_irq_level (linux/kvm.h): a GSI and the level to drive it to. In C the first field is a union
 * of {@code irq} (in) and {@code status} (out, KVM_IRQ_LINE_STATUS only); KVM_IRQ_LINE uses {@code irq}.
 */
final class KvmIrqLevelLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("irq"),
            JAVA_INT.withName("level")).withName("kvm_irq_level");

    private static final long IRQ = LAYOUT.byteOffset(groupElement("irq"));
    private static final long LEVEL = LAYOUT.byteOffset(groupElement("level"));

    private KvmIrqLevelLayout() {}

    static void write(MemorySegment irqLevel, int gsi, boolean asserted) {
        irqLevel.set(JAVA_INT, IRQ, gsi);
        irqLevel.set(JAVA_INT, LEVEL, asserted ? 1 : 0);
    }
}
