package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffdio_register (linux/userfaultfd.h): a range and the faults to report on it, UFFDIO_REGISTER. */
final class UffdioRegisterLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            UffdioRangeLayout.LAYOUT.withName("range"),
            JAVA_LONG.withName("mode"),
            JAVA_LONG.withName("ioctls")).withName("uffdio_register");
    static final long RANGE = LAYOUT.byteOffset(groupElement("range"));
    static final long MODE = LAYOUT.byteOffset(groupElement("mode"));

    private UffdioRegisterLayout() {}
}
