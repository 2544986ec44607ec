package io.vmguard.arch.x86.acpi;

/** The ACPI checksum: a byte chosen so that all bytes of a structure, it included, sum to zero (mod 256). */
final class Checksum {
    private Checksum() {}

    /** The byte that makes {@code bytes[from, to)} sum to zero, when written over a zero at a position in that range. */
    static byte of(byte[] bytes, int from, int to) {
        return (byte) -sum(bytes, from, to);
    }

    static int sum(byte[] bytes, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += bytes[i];
        }
        return sum & 0xff;
    }
}
