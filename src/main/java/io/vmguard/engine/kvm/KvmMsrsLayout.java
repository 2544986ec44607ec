package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct kvm_msrs (asm/kvm.h): a count header followed by a flexible array of kvm_msr_entry.
 * {@link #LAYOUT} is the header alone; the entries follow it.
 */
final class KvmMsrsLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("nmsrs"),
            JAVA_INT.withName("pad")).withName("kvm_msrs");

    private static final long NMSRS = LAYOUT.byteOffset(groupElement("nmsrs"));
    private static final long ENTRIES = LAYOUT.byteSize();

    private KvmMsrsLayout() {}

    /** A kvm_msrs holding the single entry {@code (index, data)}. */
    static MemorySegment single(Arena arena, int index, long data) {
        MemorySegment msrs = arena.allocate(ENTRIES + KvmMsrEntryLayout.LAYOUT.byteSize(), Long.BYTES);
        msrs.set(JAVA_INT, NMSRS, 1);
        KvmMsrEntryLayout.write(firstEntry(msrs), index, data);
        return msrs;
    }

    static MemorySegment firstEntry(MemorySegment msrs) {
        return entry(msrs, 0);
    }

    /** A kvm_msrs of {@code indices.length} entries with these indices, and data 0 (for KVM_GET_MSRS). */
    static MemorySegment of(Arena arena, int[] indices, long[] data) {
        MemorySegment msrs = arena.allocate(ENTRIES + indices.length * KvmMsrEntryLayout.LAYOUT.byteSize(), Long.BYTES);
        msrs.set(JAVA_INT, NMSRS, indices.length);
        for (int i = 0; i < indices.length; i++) {
            KvmMsrEntryLayout.write(entry(msrs, i), indices[i], data == null ? 0 : data[i]);
        }
        return msrs;
    }

    static MemorySegment entry(MemorySegment msrs, int i) {
        long size = KvmMsrEntryLayout.LAYOUT.byteSize();
        return msrs.asSlice(ENTRIES + i * size, size);
    }
}
