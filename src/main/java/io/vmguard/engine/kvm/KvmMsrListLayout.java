package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_msr_list (asm/kvm.h): a count and a flexible array of MSR indices, KVM_GET_MSR_INDEX_LIST's
 * answer. {@link #LAYOUT} is the header; KVM sets {@code nmsrs} to what it needs and fails with E2BIG
 * when the array is too short.
 */
final class KvmMsrListLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(JAVA_INT.withName("nmsrs")).withName("kvm_msr_list");

    private static final long NMSRS = LAYOUT.byteOffset(groupElement("nmsrs"));
    private static final long INDICES = LAYOUT.byteSize();

    private KvmMsrListLayout() {}

    static MemorySegment allocate(Arena arena, int capacity) {
        MemorySegment list = arena.allocate(INDICES + (long) capacity * Integer.BYTES, Integer.BYTES);
        list.set(JAVA_INT, NMSRS, capacity);
        return list;
    }

    static int count(MemorySegment list) {
        return list.get(JAVA_INT, NMSRS);
    }

    static int[] indices(MemorySegment list) {
        int[] indices = new int[count(list)];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = list.get(JAVA_INT, INDICES + (long) i * Integer.BYTES);
        }
        return indices;
    }
}
