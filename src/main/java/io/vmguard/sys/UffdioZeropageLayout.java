package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffdio_zeropage (linux/userfaultfd.h): fill missing pages with zeros, UFFDIO_ZEROPAGE. */
final class UffdioZeropageLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            UffdioRangeLayout.LAYOUT.withName("range"),
            JAVA_LONG.withName("mode"),
            JAVA_LONG.withName("zeropage")).withName("uffdio_zeropage");
    static final long RANGE = LAYOUT.byteOffset(groupElement("range"));
    static final long MODE = LAYOUT.byteOffset(groupElement("mode"));
    /** Written back: the bytes zeroed, or -errno. */
    static final long ZEROPAGE = LAYOUT.byteOffset(groupElement("zeropage"));

    private UffdioZeropageLayout() {}
}
