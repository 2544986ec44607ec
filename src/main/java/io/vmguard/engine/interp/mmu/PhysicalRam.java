package io.vmguard.engine.interp.mmu;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Guest RAM as the MMU touches it on its slow paths (page walks, TLB fills, accesses that bypass the TLB):
 * the regions' host segments in plain arrays, so finding the one that holds an address neither iterates
 * a list nor allocates a slice. Accesses are bounds-checked against the region, as
 * {@link GuestMemory} checks them.
 */
final class PhysicalRam {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Aligned 64-bit words with atomic access modes (the host is x86, little-endian like the guest). */
    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final long[] starts;
    private final long[] sizes;
    private final MemorySegment[] backings;

    PhysicalRam(GuestMemory memory) {
        List<MemoryRegion> regions = memory.regions();
        starts = new long[regions.size()];
        sizes = new long[regions.size()];
        backings = new MemorySegment[regions.size()];
        for (int i = 0; i < regions.size(); i++) {
            starts[i] = regions.get(i).start();
            sizes[i] = regions.get(i).size();
            backings[i] = regions.get(i).backing();
        }
    }

    /** The region holding all of {@code [address, address + length)}, or -1 (not RAM). */
    int region(long address, long length) {
        for (int i = 0; i < starts.length; i++) {
            long offset = address - starts[i];
            if (offset >= 0 && offset <= sizes[i] - length) {
                return i;
            }
        }
        return -1;
    }

    /** A view of {@code [address, address + length)}, which must lie in {@code region}. */
    MemorySegment slice(int region, long address, long length) {
        return backings[region].asSlice(address - starts[region], length);
    }

    /** Reads 1, 2, 4 or 8 bytes, zero-extended, from {@code address} in {@code region}. */
    long read(int region, long address, int size) {
        MemorySegment backing = backings[region];
        long offset = address - starts[region];
        return switch (size) {
            case 1 -> backing.get(ValueLayout.JAVA_BYTE, offset) & 0xffL;
            case 2 -> backing.get(U16, offset) & 0xffffL;
            case 4 -> backing.get(U32, offset) & 0xffff_ffffL;
            default -> backing.get(U64, offset);
        };
    }

    void write(int region, long address, int size, long value) {
        MemorySegment backing = backings[region];
        long offset = address - starts[region];
        switch (size) {
            case 1 -> backing.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
            case 2 -> backing.set(U16, offset, (short) value);
            case 4 -> backing.set(U32, offset, (int) value);
            default -> backing.set(U64, offset, value);
        }
    }

    // ---- atomic access, for LOCK-prefixed instructions and the page walker's accessed/dirty bits ----

    /**
     * Whether {@code size} bytes at {@code address} lie within one naturally aligned 8-byte word of
     * {@code region}: what {@link #atomicRead} and {@link #compareAndSet} can do as one host atomic.
     */
    boolean withinWord(int region, long address, int size) {
        return ((address - starts[region]) & 7) + size <= 8 && ((address ^ starts[region]) & 7) == (address & 7);
    }

    /** Reads {@code size} bytes within one word (see {@link #withinWord}) with a single volatile load. */
    long atomicRead(int region, long address, int size) {
        long offset = address - starts[region];
        long word = (long) WORD.getVolatile(backings[region], offset & ~7L);
        return extract(word, offset, size);
    }

    /**
     * Replaces {@code size} bytes within one word (see {@link #withinWord}) with {@code value} if they hold
     * {@code expected}, as one host compare-and-set of the containing word; the other bytes of the word may
     * change meanwhile (another CPU's neighbouring variable) without making this fail.
     */
    boolean compareAndSet(int region, long address, int size, long expected, long value) {
        long offset = address - starts[region];
        long wordOffset = offset & ~7L;
        int shift = (int) (offset & 7) * 8;
        long mask = size == 8 ? -1L : ((1L << (8 * size)) - 1) << shift;
        MemorySegment backing = backings[region];
        while (true) {
            long word = (long) WORD.getVolatile(backing, wordOffset);
            if (extract(word, offset, size) != (size == 8 ? expected : expected & ((1L << (8 * size)) - 1))) {
                return false;
            }
            long next = (word & ~mask) | ((value << shift) & mask);
            if (WORD.compareAndSet(backing, wordOffset, word, next)) {
                return true;
            }
        }
    }

    private static long extract(long word, long offset, int size) {
        long value = word >>> ((int) (offset & 7) * 8);
        return size == 8 ? value : value & ((1L << (8 * size)) - 1);
    }
}
