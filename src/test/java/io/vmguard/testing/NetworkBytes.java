package io.vmguard.testing;

/**
 * Big-endian fields and the RFC 1071 sum over byte arrays, one byte at a time: the network tests' independent
 * check of what a card's offloads made of a packet (never the code under test, {@code net.InternetChecksum}).
 */
public final class NetworkBytes {
    private NetworkBytes() {}

    /** RFC 1071 over {@code length} bytes from {@code from}, starting at {@code initial}, folded and not complemented. */
    public static int sum(byte[] bytes, int from, int length, int initial) {
        long total = initial;
        for (int i = 0; i < length; i++) {
            int value = bytes[from + i] & 0xff;
            total += i % 2 == 0 ? value << 8 : value;
        }
        while (total > 0xffff) {
            total = (total >> 16) + (total & 0xffff);
        }
        return (int) total;
    }

    /** The same from 0: a valid header or segment sums (with its checksum field) to 0xffff. */
    public static int sum(byte[] bytes, int from, int length) {
        return sum(bytes, from, length, 0);
    }

    public static int u16(byte[] bytes, int at) {
        return (bytes[at] & 0xff) << 8 | bytes[at + 1] & 0xff;
    }

    public static int u32(byte[] bytes, int at) {
        return u16(bytes, at) << 16 | u16(bytes, at + 2);
    }

    public static void putU16(byte[] bytes, int at, int value) {
        bytes[at] = (byte) (value >>> 8);
        bytes[at + 1] = (byte) value;
    }
}
