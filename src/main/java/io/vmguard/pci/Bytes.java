package io.vmguard.pci;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Little-endian values of 1-8 byte bus accesses. */
final class Bytes {
    private Bytes() {}

    static long load(MemorySegment data) {
        long value = 0;
        for (int i = (int) data.byteSize() - 1; i >= 0; i--) {
            value = value << 8 | Byte.toUnsignedLong(data.get(ValueLayout.JAVA_BYTE, i));
        }
        return value;
    }

    static void store(MemorySegment data, long value) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
        }
    }
}
