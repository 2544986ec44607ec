package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * struct kvm_cpuid2 (asm/kvm.h): a count header followed by a flexible array of kvm_cpuid_entry2.
 * {@link #LAYOUT} is the header alone (what sizeof gives in C and what the ioctl numbers encode).
 */
final class KvmCpuid2Layout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("nent"),
            JAVA_INT.withName("padding")).withName("kvm_cpuid2");

    private static final long NENT = LAYOUT.byteOffset(groupElement("nent"));
    private static final long ENTRIES = LAYOUT.byteSize();

    private KvmCpuid2Layout() {}

    /** A zeroed kvm_cpuid2 with room for {@code capacity} entries and nent = capacity. */
    static MemorySegment allocate(Arena arena, int capacity) {
        MemorySegment cpuid = arena.allocate(ENTRIES + capacity * KvmCpuidEntry2Layout.LAYOUT.byteSize(), Long.BYTES);
        cpuid.set(JAVA_INT, NENT, capacity);
        return cpuid;
    }

    static MemorySegment allocate(Arena arena, List<CpuidEntry> entries) {
        MemorySegment cpuid = allocate(arena, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            KvmCpuidEntry2Layout.write(entry(cpuid, i), entries.get(i));
        }
        return cpuid;
    }

    /** The entries KVM filled in (it sets nent to their count). */
    static List<CpuidEntry> read(MemorySegment cpuid) {
        int count = cpuid.get(JAVA_INT, NENT);
        long capacity = (cpuid.byteSize() - ENTRIES) / KvmCpuidEntry2Layout.LAYOUT.byteSize();
        if (count < 0 || count > capacity) {
            throw new IllegalStateException("kvm_cpuid2 claims " + count + " entries in room for " + capacity);
        }
        List<CpuidEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            entries.add(KvmCpuidEntry2Layout.read(entry(cpuid, i)));
        }
        return entries;
    }

    private static MemorySegment entry(MemorySegment cpuid, int i) {
        long size = KvmCpuidEntry2Layout.LAYOUT.byteSize();
        return cpuid.asSlice(ENTRIES + i * size, size);
    }
}
