package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_msr_entry (asm/kvm.h): an MSR index and its 64-bit value. */
final class KvmMsrEntryLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("index"),
            JAVA_INT.withName("reserved"),
            JAVA_LONG.withName("data")).withName("kvm_msr_entry");

    private static final long INDEX = LAYOUT.byteOffset(groupElement("index"));
    private static final long DATA = LAYOUT.byteOffset(groupElement("data"));

    private KvmMsrEntryLayout() {}

    static void write(MemorySegment entry, int index, long data) {
        entry.fill((byte) 0);
        entry.set(JAVA_INT, INDEX, index);
        entry.set(JAVA_LONG, DATA, data);
    }

    static int index(MemorySegment entry) {
        return entry.get(JAVA_INT, INDEX);
    }

    static long data(MemorySegment entry) {
        return entry.get(JAVA_LONG, DATA);
    }
}
