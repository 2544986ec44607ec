package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_userspace_memory_region (linux/kvm.h): one memory slot, guest physical range to host mapping. */
final class KvmUserspaceMemoryRegionLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("slot"),
            JAVA_INT.withName("flags"),
            JAVA_LONG.withName("guest_phys_addr"),
            JAVA_LONG.withName("memory_size"),
            JAVA_LONG.withName("userspace_addr")).withName("kvm_userspace_memory_region");

    private static final long SLOT = LAYOUT.byteOffset(groupElement("slot"));
    private static final long FLAGS = LAYOUT.byteOffset(groupElement("flags"));
    private static final long GUEST_PHYS_ADDR = LAYOUT.byteOffset(groupElement("guest_phys_addr"));
    private static final long MEMORY_SIZE = LAYOUT.byteOffset(groupElement("memory_size"));
    private static final long USERSPACE_ADDR = LAYOUT.byteOffset(groupElement("userspace_addr"));

    private KvmUserspaceMemoryRegionLayout() {}

    static void write(MemorySegment region, int slot, long guestPhysical, long size, long userspaceAddress) {
        region.set(JAVA_INT, SLOT, slot);
        region.set(JAVA_INT, FLAGS, 0);
        region.set(JAVA_LONG, GUEST_PHYS_ADDR, guestPhysical);
        region.set(JAVA_LONG, MEMORY_SIZE, size);
        region.set(JAVA_LONG, USERSPACE_ADDR, userspaceAddress);
    }
}
