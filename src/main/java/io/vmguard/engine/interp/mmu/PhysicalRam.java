package io.vmguard.engine.interp.mmu;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Guest RAM as the MMU touches it on its slow paths (page walks, TLB fills, accesses that bypass the TLB):
 * the regions' host segments in plain arrays, so finding the one that holds an address neither iterates
 * a list nor allocates a slice. Accesses are bounds-checked against the region, as
 * {@link GuestMemory} checks them.
 *
 * <p>For the TLB's hits, all of RAM is also one segment, the {@link #span}: from the lowest region's first
 * host byte to the highest one's last, with the regions' lifetime (so a hit after guest memory is closed
 * still fails cleanly). A TLB entry holds an offset into it; one segment for every hit lets HotSpot keep its
 * size and liveness in registers across a compiled block's accesses. Host memory between two regions lies
 * inside the span but is never named by an entry: an offset is made only by {@link #spanOffset} for a page
 * of one region, and a hit's access stays inside that page.
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
    private final MemorySegment span;
    /** Per region, the offset of its first byte in {@link #span}; -1 for a region the span does not hold. */
    private final long[] spanStarts;

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
        spanStarts = new long[backings.length];
        span = span(backings, spanStarts);
    }

    /**
     * One segment over all regions when they are native mappings of one lifetime (what vmguard allocates, and
     * a snapshot's file mapping); otherwise (heap segments, or segments of different lifetimes, which only
     * tests wrap) the first region alone, and pages of the others are never cached.
     */
    private static MemorySegment span(MemorySegment[] backings, long[] spanStarts) {
        Arrays.fill(spanStarts, -1);
        if (backings.length == 0) {
            return MemorySegment.NULL;
        }
        boolean oneMapping = true;
        MemorySegment lowest = backings[0];
        long highestEnd = 0;
        for (MemorySegment backing : backings) {
            oneMapping &= backing.isNative() && !backing.isReadOnly() && backing.scope().equals(backings[0].scope());
            if (backing.address() < lowest.address()) {
                lowest = backing;
            }
            highestEnd = Math.max(highestEnd, backing.address() + backing.byteSize());
        }
        if (!oneMapping || backings.length == 1) {
            spanStarts[0] = 0;
            return backings[0];
        }
        for (int i = 0; i < backings.length; i++) {
            spanStarts[i] = backings[i].address() - lowest.address();
        }
        return lowest.reinterpret(highestEnd - lowest.address()); // keeps the regions' lifetime
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

    /** All of RAM as one segment, for the TLB's hits (see the class comment). */
    MemorySegment span() {
        return span;
    }

    /** Where guest physical {@code address} of {@code region} lies in the {@link #span}, or -1 (not in it). */
    long spanOffset(int region, long address) {
        return spanStarts[region] < 0 ? -1 : spanStarts[region] + (address - starts[region]);
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
