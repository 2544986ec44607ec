package io.vmguard.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071) over bytes of a frame, and the big-endian field access it needs. Sums
 * 32-bit words into a 64-bit accumulator (RFC 1071 section 2(B): the sum is independent of the word size
 * once folded), so a 64 KiB segment costs 16 Ki loads.
 */
public final class InternetChecksum {
    private static final ValueLayout.OfInt INT_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort SHORT_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private InternetChecksum() {}

    /** The one's-complement sum of {@code length} bytes from {@code offset}, added to {@code initial}, folded to 16 bits. */
    public static int sum(MemorySegment frame, long offset, long length, long initial) {
        long sum = initial;
        long i = 0;
        for (; i + 4 <= length; i += 4) {
            sum += frame.get(INT_BE, offset + i) & 0xffff_ffffL;
        }
        if (i + 2 <= length) {
            sum += u16(frame, offset + i);
            i += 2;
        }
        if (i < length) {
            sum += (frame.get(ValueLayout.JAVA_BYTE, offset + i) & 0xff) << 8; // an odd last byte, padded with zero
        }
        return fold(sum);
    }

    public static int fold(long sum) {
        while (sum >>> 16 != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) sum;
    }

    public static int u16(MemorySegment frame, long offset) {
        return frame.get(SHORT_BE, offset) & 0xffff;
    }

    public static void putU16(MemorySegment frame, long offset, int value) {
        frame.set(SHORT_BE, offset, (short) value);
    }

    public static int u32(MemorySegment frame, long offset) {
        return frame.get(INT_BE, offset);
    }

    public static void putU32(MemorySegment frame, long offset, int value) {
        frame.set(INT_BE, offset, value);
    }
}
