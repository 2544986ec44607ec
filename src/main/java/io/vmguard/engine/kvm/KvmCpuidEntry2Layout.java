package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_cpuid_entry2 (asm/kvm.h): one CPUID leaf, with its subleaf index and flags. */
final class KvmCpuidEntry2Layout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("function"),
            JAVA_INT.withName("index"),
            JAVA_INT.withName("flags"),
            JAVA_INT.withName("eax"),
            JAVA_INT.withName("ebx"),
            JAVA_INT.withName("ecx"),
            JAVA_INT.withName("edx"),
            MemoryLayout.sequenceLayout(3, JAVA_INT).withName("padding")).withName("kvm_cpuid_entry2");

    private static final long FUNCTION = offset("function");
    private static final long INDEX = offset("index");
    private static final long FLAGS = offset("flags");
    private static final long EAX = offset("eax");
    private static final long EBX = offset("ebx");
    private static final long ECX = offset("ecx");
    private static final long EDX = offset("edx");

    private KvmCpuidEntry2Layout() {}

    static CpuidEntry read(MemorySegment entry) {
        return new CpuidEntry(entry.get(JAVA_INT, FUNCTION), entry.get(JAVA_INT, INDEX), entry.get(JAVA_INT, FLAGS),
                entry.get(JAVA_INT, EAX), entry.get(JAVA_INT, EBX), entry.get(JAVA_INT, ECX), entry.get(JAVA_INT, EDX));
    }

    static void write(MemorySegment entry, CpuidEntry e) {
        entry.fill((byte) 0);
        entry.set(JAVA_INT, FUNCTION, e.function());
        entry.set(JAVA_INT, INDEX, e.index());
        entry.set(JAVA_INT, FLAGS, e.flags());
        entry.set(JAVA_INT, EAX, e.eax());
        entry.set(JAVA_INT, EBX, e.ebx());
        entry.set(JAVA_INT, ECX, e.ecx());
        entry.set(JAVA_INT, EDX, e.edx());
    }

    private static long offset(String field) {
        return LAYOUT.byteOffset(groupElement(field));
    }
}
