package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffd_msg (linux/userfaultfd.h), 32 bytes, as read(2) returns it; only the page-fault member of its union. */
final class UffdMsgLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_BYTE.withName("event"),
            JAVA_BYTE.withName("reserved1"),
            JAVA_SHORT.withName("reserved2"),
            JAVA_INT.withName("reserved3"),
            JAVA_LONG.withName("pagefault_flags"),
            JAVA_LONG.withName("pagefault_address"),
            JAVA_INT.withName("pagefault_ptid"),
            MemoryLayout.paddingLayout(4)).withName("uffd_msg");
    static final long EVENT = LAYOUT.byteOffset(groupElement("event"));
    static final long ADDRESS = LAYOUT.byteOffset(groupElement("pagefault_address"));

    private UffdMsgLayout() {}
}
