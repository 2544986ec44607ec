package io.vmguard.devices.e1000;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** The Internet checksum (RFC 1071) over bytes of a frame, and the big-endian field access it needs. */
final class Checksum {
    private Checksum() {}

    /** The one's-complement sum of {@code length} bytes from {@code offset}, added to {@code initial}, folded to 16 bits. */
    static int sum(MemorySegment frame, long offset, long length, int initial) {
        long sum = initial & 0xffffffffL;
        long i = 0;
        for (; i + 1 < length; i += 2) {
            sum += u16(frame, offset + i);
        }
        if (i < length) {
            sum += (frame.get(ValueLayout.JAVA_BYTE, offset + i) & 0xff) << 8;
        }
        return fold(sum);
    }

    static int fold(long sum) {
        while (sum >>> 16 != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }

    static int u16(MemorySegment frame, long offset) {
        return (frame.get(ValueLayout.JAVA_BYTE, offset) & 0xff) << 8 | frame.get(ValueLayout.JAVA_BYTE, offset + 1) & 0xff;
    }

    static void putU16(MemorySegment frame, long offset, int value) {
        frame.set(ValueLayout.JAVA_BYTE, offset, (byte) (value >>> 8));
        frame.set(ValueLayout.JAVA_BYTE, offset + 1, (byte) value);
    }

    static int u32(MemorySegment frame, long offset) {
        return u16(frame, offset) << 16 | u16(frame, offset + 2);
    }

    static void putU32(MemorySegment frame, long offset, int value) {
        putU16(frame, offset, value >>> 16);
        putU16(frame, offset + 2, value);
    }
}
