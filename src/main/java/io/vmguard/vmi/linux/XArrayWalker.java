package io.vmguard.vmi.linux;

import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the pointer entries of an XArray (the IDR under a PID namespace is one), per include/linux/xarray.h:
 * an entry with low bits 10 is internal; above 4096 it is a node pointer plus 2, below it a sibling, retry
 * or zero entry. Value entries (low bit 1) are not pointers and are skipped. Each node covers
 * {@code slotCount << shift} indexes; children have a shift 6 smaller (XA_CHUNK_SHIFT).
 */
final class XArrayWalker {
    /** Offsets in {@code struct xa_node} and XA_CHUNK_SIZE, from BTF. */
    record Layout(long shiftOffset, long slotsOffset, int slotCount) {}

    record Entry(long index, long value) {}

    private static final int CHUNK_SHIFT = 6;

    private final VirtualMemory memory;
    private final Layout layout;
    private final List<Entry> entries = new ArrayList<>();
    private final Set<Long> visited = new HashSet<>();

    private XArrayWalker(VirtualMemory memory, Layout layout) {
        this.memory = memory;
        this.layout = layout;
    }

    /** Every pointer entry reachable from {@code head} (the value of {@code xa_head}), in index order. */
    static List<Entry> entries(VirtualMemory memory, long head, Layout layout) throws VmiException {
        XArrayWalker walker = new XArrayWalker(memory, layout);
        if (isNode(head)) {
            walker.node(head - 2, -1, 0);
        } else if (head != 0 && !isInternal(head) && (head & 1) == 0) {
            walker.entries.add(new Entry(0, head));
        }
        return walker.entries;
    }

    private void node(long node, int expectedShift, long base) throws VmiException {
        GuestPointers.kernel(node, "xarray node");
        if (!visited.add(node) || visited.size() > GuestPointers.WALK_LIMIT) {
            throw new VmiException(String.format("xarray node %#x is reached twice or the array is too large", node), node);
        }
        int shift = memory.readUnsignedByte(node + layout.shiftOffset());
        if (shift % CHUNK_SHIFT != 0 || shift >= 64 || (expectedShift >= 0 && shift != expectedShift)) {
            throw new VmiException(String.format("xarray node %#x has shift %d", node, shift), node);
        }
        byte[] slots = memory.readBytes(node + layout.slotsOffset(), 8 * layout.slotCount());
        for (int i = 0; i < layout.slotCount(); i++) {
            long entry = Bytes.longAt(slots, 8 * i);
            long index = base + ((long) i << shift);
            if (isNode(entry)) {
                if (shift == 0) {
                    throw new VmiException(String.format("xarray leaf node %#x holds a node pointer", node), node);
                }
                node(entry - 2, shift - CHUNK_SHIFT, index);
            } else if (entry != 0 && !isInternal(entry) && (entry & 1) == 0) {
                if (entries.size() >= GuestPointers.WALK_LIMIT) {
                    throw new VmiException("xarray has more than " + GuestPointers.WALK_LIMIT + " entries", node);
                }
                entries.add(new Entry(index, entry));
            }
        }
    }

    private static boolean isInternal(long entry) {
        return (entry & 3) == 2;
    }

    private static boolean isNode(long entry) {
        return isInternal(entry) && Long.compareUnsigned(entry, 4096) > 0;
    }
}
