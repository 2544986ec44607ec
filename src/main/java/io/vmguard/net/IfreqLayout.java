package io.vmguard.net;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;

/**
 * struct ifreq (net/if.h): an interface name and a union of per-request arguments, of which TUNSETIFF
 * uses the flags. The union is modelled by the members we use plus its largest, struct ifmap (two
 * unsigned longs, a short and three chars: 24 bytes), which gives it its size and 8-byte alignment.
 */
final class IfreqLayout {
    static final int IFNAMSIZ = 16;

    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(IFNAMSIZ, JAVA_BYTE).withName("ifr_name"),
            MemoryLayout.unionLayout(
                    JAVA_SHORT.withName("ifru_flags"),
                    JAVA_INT.withName("ifru_ivalue"),
                    MemoryLayout.sequenceLayout(3, JAVA_LONG).withName("ifru_map")).withName("ifr_ifru")).withName("ifreq");

    private static final long NAME = LAYOUT.byteOffset(groupElement("ifr_name"));
    private static final long FLAGS = LAYOUT.byteOffset(groupElement("ifr_ifru"), groupElement("ifru_flags"));

    private IfreqLayout() {}

    /** A zeroed ifreq naming {@code name} (at most IFNAMSIZ-1 bytes, so it stays NUL-terminated) with {@code flags}. */
    static MemorySegment allocate(Arena arena, String name, short flags) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + name + "' is longer than " + (IFNAMSIZ - 1) + " bytes");
        }
        MemorySegment request = arena.allocate(LAYOUT);
        MemorySegment.copy(bytes, 0, request, JAVA_BYTE, NAME, bytes.length);
        request.set(JAVA_SHORT, FLAGS, flags);
        return request;
    }

    /** The name in the request: the kernel writes back the name it chose (a name like {@code tap%d} is a pattern). */
    static String name(MemorySegment request) {
        return request.asSlice(NAME, IFNAMSIZ).getString(0, StandardCharsets.UTF_8);
    }
}
