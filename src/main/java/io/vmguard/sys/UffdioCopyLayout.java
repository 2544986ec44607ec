package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffdio_copy (linux/userfaultfd.h): fill missing pages with bytes from the caller, UFFDIO_COPY. */
final class UffdioCopyLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("dst"),
            JAVA_LONG.withName("src"),
            JAVA_LONG.withName("len"),
            JAVA_LONG.withName("mode"),
            JAVA_LONG.withName("copy")).withName("uffdio_copy");
    static final long DST = LAYOUT.byteOffset(groupElement("dst"));
    static final long SRC = LAYOUT.byteOffset(groupElement("src"));
    static final long LEN = LAYOUT.byteOffset(groupElement("len"));
    static final long MODE = LAYOUT.byteOffset(groupElement("mode"));
    /** Written back: the bytes copied, or -errno. */
    static final long COPY = LAYOUT.byteOffset(groupElement("copy"));

    private UffdioCopyLayout() {}
}
