package io.vmguard.pci;

/**
 * The shape of a memory BAR as a device declares it: its size (a power of two, at least 16 bytes as the
 * BAR's four flag bits require), whether it takes one register (32-bit) or two (64-bit), and whether it
 * is prefetchable. Where it lives is the root complex's and then the guest's business. Device registers
 * that the VMM traps should get at least a 4 KiB page, so a BAR never shares a page with another.
 */
public record PciBar(Type type, long size, boolean prefetchable) {
    public enum Type { MEMORY32, MEMORY64 }

    private static final long MINIMUM_SIZE = 16;
    private static final int FLAG_64BIT = 0b100;
    private static final int FLAG_PREFETCHABLE = 0b1000;

    public PciBar {
        if (size < MINIMUM_SIZE || Long.bitCount(size) != 1) {
            throw new IllegalArgumentException("BAR size must be a power of two of at least 16 bytes: " + size);
        }
        if (type == Type.MEMORY32 && size > 1L << 31) {
            throw new IllegalArgumentException("a 32-bit BAR cannot be larger than 2 GiB: " + size);
        }
        if (type == Type.MEMORY64 && size > 1L << 62) {
            throw new IllegalArgumentException("BAR size out of range: " + size);
        }
    }

    public static PciBar memory32(long size) {
        return new PciBar(Type.MEMORY32, size, false);
    }

    public static PciBar memory64(long size) {
        return new PciBar(Type.MEMORY64, size, false);
    }

    public PciBar asPrefetchable() {
        return new PciBar(type, size, true);
    }

    /** BAR registers taken: two for a 64-bit BAR (the second holds the upper address half). */
    public int registers() {
        return type == Type.MEMORY64 ? 2 : 1;
    }

    /** The read-only low bits of the (first) register: memory space, type, prefetchable. */
    int flags() {
        return (type == Type.MEMORY64 ? FLAG_64BIT : 0) | (prefetchable ? FLAG_PREFETCHABLE : 0);
    }
}
