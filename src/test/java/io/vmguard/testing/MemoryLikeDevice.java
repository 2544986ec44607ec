package io.vmguard.testing;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A test device that holds bytes and reads them back, like memory, and counts how often each byte was
 * read: device reads can have side effects, so a test can check that none was made twice.
 */
public final class MemoryLikeDevice implements BusDevice {
    private final byte[] bytes;
    private final int[] reads;

    /** Holds {@code size} bytes, byte {@code i} starting as {@code (i * 7 + i / 256) & 0xff}. */
    public MemoryLikeDevice(int size) {
        bytes = new byte[size];
        reads = new int[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = initial(i);
        }
    }

    public static byte initial(long offset) {
        return (byte) (offset * 7 + offset / 256);
    }

    /** The little-endian value of {@code width} bytes at {@code offset} as the device holds them now. */
    public synchronized long value(int offset, int width) {
        long value = 0;
        for (int i = width - 1; i >= 0; i--) {
            value = (value << 8) | Byte.toUnsignedLong(bytes[offset + i]);
        }
        return value;
    }

    public synchronized byte[] bytes(int offset, int length) {
        return java.util.Arrays.copyOfRange(bytes, offset, offset + length);
    }

    /** How many times byte {@code offset} was read. */
    public synchronized int reads(int offset) {
        return reads[offset];
    }

    public int size() {
        return bytes.length;
    }

    @Override
    public synchronized void read(long offset, MemorySegment data) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, bytes[(int) offset + i]);
            reads[(int) offset + i]++;
        }
    }

    @Override
    public synchronized void write(long offset, MemorySegment data) {
        for (int i = 0; i < data.byteSize(); i++) {
            bytes[(int) offset + i] = data.get(ValueLayout.JAVA_BYTE, i);
        }
    }
}
