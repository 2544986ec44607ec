package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffdio_range (linux/userfaultfd.h): an address range, alone (UFFDIO_WAKE, UFFDIO_UNREGISTER) or leading others. */
final class UffdioRangeLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("start"),
            JAVA_LONG.withName("len")).withName("uffdio_range");
    static final long START = LAYOUT.byteOffset(groupElement("start"));
    static final long LEN = LAYOUT.byteOffset(groupElement("len"));

    private UffdioRangeLayout() {}
}
