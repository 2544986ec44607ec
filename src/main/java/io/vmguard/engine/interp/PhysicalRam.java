package io.vmguard.engine.interp;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
}
