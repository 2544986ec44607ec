package io.vmguard.net;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct iovec (sys/uio.h): one piece of a scattered buffer for readv/writev. */
final class IovecLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            ADDRESS.withName("iov_base"),
            JAVA_LONG.withName("iov_len")).withName("iovec");

    private static final long BASE = LAYOUT.byteOffset(groupElement("iov_base"));
    private static final long LENGTH = LAYOUT.byteOffset(groupElement("iov_len"));

    private IovecLayout() {}

    /** Points entry {@code index} of the iovec array {@code iovecs} at all of {@code buffer}. */
    static void set(MemorySegment iovecs, int index, MemorySegment buffer) {
        long entry = index * LAYOUT.byteSize();
        iovecs.set(ADDRESS, entry + BASE, buffer);
        iovecs.set(JAVA_LONG, entry + LENGTH, buffer.byteSize());
    }
}
