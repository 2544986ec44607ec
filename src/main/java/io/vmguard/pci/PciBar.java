package io.vmguard.pci;

/**
 * The shape of a BAR as a device declares it: its size (a power of two, at least 16 bytes as a memory BAR's
 * four flag bits require), whether it takes one register (32-bit) or two (64-bit), and whether it
 * is prefetchable. An I/O BAR ({@link #io}) decodes port I/O instead: 4 to 256 ports, one register,
 * for devices whose drivers insist on one (Intel's 8254x NICs reset through it). Where it lives is the root complex's and then the guest's business. Device registers
 * that the VMM traps should get at least a 4 KiB page, so a BAR never shares a page with another.
 */
public record PciBar(Type type, long size, boolean prefetchable) {
    public enum Type { MEMORY32, MEMORY64, IO }

    private static final long MINIMUM_SIZE = 16;
    private static final long IO_MINIMUM_SIZE = 4;
    private static final long IO_MAXIMUM_SIZE = 256;
    private static final int FLAG_IO = 0b1;
    private static final int FLAG_64BIT = 0b100;
    private static final int FLAG_PREFETCHABLE = 0b1000;

    public PciBar {
        if (type == Type.IO) {
            if (size < IO_MINIMUM_SIZE || size > IO_MAXIMUM_SIZE || Long.bitCount(size) != 1 || prefetchable) {
                throw new IllegalArgumentException("an I/O BAR is a power of two of 4 to 256 ports, not prefetchable: " + size);
            }
        } else if (size < MINIMUM_SIZE || Long.bitCount(size) != 1) {
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

    /** An I/O BAR of {@code size} ports. */
    public static PciBar io(long size) {
        return new PciBar(Type.IO, size, false);
    }

    public boolean isIo() {
        return type == Type.IO;
    }

    public PciBar asPrefetchable() {
        return new PciBar(type, size, true);
    }

    /** BAR registers taken: two for a 64-bit BAR (the second holds the upper address half). */
    public int registers() {
        return type == Type.MEMORY64 ? 2 : 1;
    }

    /** The read-only low bits of the (first) register: I/O space, or memory with its type and prefetchable. */
    int flags() {
        if (type == Type.IO) {
            return FLAG_IO;
        }
        return (type == Type.MEMORY64 ? FLAG_64BIT : 0) | (prefetchable ? FLAG_PREFETCHABLE : 0);
    }
}
