package io.vmguard.net;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.vmguard.sys.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** struct sockaddr_un (sys/un.h): an AF_UNIX socket address naming a file. */
final class SockaddrUnLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_SHORT.withName("sun_family"),
            MemoryLayout.sequenceLayout(108, JAVA_BYTE).withName("sun_path")).withName("sockaddr_un");

    private static final long FAMILY = LAYOUT.byteOffset(groupElement("sun_family"));
    private static final long PATH = LAYOUT.byteOffset(groupElement("sun_path"));
    /** sun_path's size less the terminating NUL, which portable programs always leave room for. */
    static final int MAX_PATH_BYTES = 107;

    private SockaddrUnLayout() {}

    /**
     * The address of {@code path}, exactly as long as bind/connect/sendto should read it: the family, the
     * path and its NUL (the length is what tells the kernel where the path ends).
     */
    static MemorySegment allocate(Arena arena, Path path) {
        byte[] bytes = pathBytes(path.toString());
        MemorySegment address = arena.allocate(PATH + bytes.length + 1, LAYOUT.byteAlignment());
        address.set(JAVA_SHORT, FAMILY, (short) Libc.AF_UNIX);
        MemorySegment.copy(bytes, 0, address, JAVA_BYTE, PATH, bytes.length);
        address.set(JAVA_BYTE, PATH + bytes.length, (byte) 0);
        return address;
    }

    /** The bytes of a socket path, which must fit sun_path with its NUL. */
    static byte[] pathBytes(String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0) {
            throw new IllegalArgumentException("socket path is empty");
        }
        if (bytes.length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("socket path '" + path + "' is " + bytes.length + " bytes; the limit is "
                    + MAX_PATH_BYTES);
        }
        return bytes;
    }
}
