package io.vmguard.av.scan;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Bounds-checked little/big-endian reads from a segment; callers check the bounds first with {@link #has}. */
final class Bytes {
    private static final ValueLayout.OfShort U16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt U32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Bytes() {
    }

    static boolean has(MemorySegment data, long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= data.byteSize() - length;
    }

    static int u8(MemorySegment data, long offset) {
        return data.get(ValueLayout.JAVA_BYTE, offset) & 0xff;
    }

    static int u16le(MemorySegment data, long offset) {
        return data.get(U16_LE, offset) & 0xffff;
    }

    static long u32le(MemorySegment data, long offset) {
        return data.get(U32_LE, offset) & 0xffffffffL;
    }

    static int u16(MemorySegment data, long offset, boolean big) {
        return data.get(big ? U16_BE : U16_LE, offset) & 0xffff;
    }

    static long u32(MemorySegment data, long offset, boolean big) {
        return data.get(big ? U32_BE : U32_LE, offset) & 0xffffffffL;
    }

    static long u64(MemorySegment data, long offset, boolean big) {
        return data.get(big ? U64_BE : U64_LE, offset);
    }
}
