package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/** struct uffdio_api (linux/userfaultfd.h): the API handshake, UFFDIO_API. */
final class UffdioApiLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("api"),
            JAVA_LONG.withName("features"),
            JAVA_LONG.withName("ioctls")).withName("uffdio_api");
    static final long API = LAYOUT.byteOffset(groupElement("api"));
    static final long FEATURES = LAYOUT.byteOffset(groupElement("features"));
    static final long IOCTLS = LAYOUT.byteOffset(groupElement("ioctls"));

    private UffdioApiLayout() {}
}
