package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vmguard.engine.DescriptorTable;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct kvm_dtable (asm/kvm.h): GDTR or IDTR. */
final class KvmDtableLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("base"),
            JAVA_SHORT.withName("limit"),
            MemoryLayout.sequenceLayout(3, JAVA_SHORT).withName("padding")).withName("kvm_dtable");

    private static final long BASE = LAYOUT.byteOffset(groupElement("base"));
    private static final long LIMIT = LAYOUT.byteOffset(groupElement("limit"));

    private KvmDtableLayout() {}

    static DescriptorTable read(MemorySegment table) {
        return new DescriptorTable(table.get(JAVA_LONG, BASE), Short.toUnsignedInt(table.get(JAVA_SHORT, LIMIT)));
    }

    static void write(MemorySegment table, DescriptorTable t) {
        if (t.limit() < 0 || t.limit() > 0xffff) {
            throw new IllegalArgumentException("descriptor table limit 0x" + Integer.toHexString(t.limit()) + " exceeds 16 bits");
        }
        table.set(JAVA_LONG, BASE, t.base());
        table.set(JAVA_SHORT, LIMIT, (short) t.limit());
    }
}
