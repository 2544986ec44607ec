package io.vmguard.vmi.linux;

import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads the entries of a maple tree (an mm's VMAs live in {@code mm->mm_mt}), following lib/maple_tree.c:
 * the root is a node when its low bits are 10 and it is above 4096 (MAPLE_ROOT_NODE); children in internal
 * nodes are encoded nodes with bits 0..1 clear; bits 3..6 of an encoded node hold its type (leaf_64 and range_64
 * share one layout; arange_64 has fewer slots plus gaps); the node is the pointer with its low 8 bits
 * cleared. How many slots hold data is {@code ma_data_end}: the last pivot if it is set and equals the
 * node's max, all slots if set to anything else, else the end stored in the node's metadata.
 */
final class MapleTreeWalker {
    /** Offsets in {@code struct maple_range_64} and {@code struct maple_arange_64}, and their slot counts, from BTF. */
    record Layout(long rangePivots, long rangeSlots, long rangeMetaEnd, int rangeSlotCount,
                  long arangePivots, long arangeSlots, long arangeMetaEnd, int arangeSlotCount) {}

    private static final int LEAF_64 = 1;
    private static final int RANGE_64 = 2;
    private static final int ARANGE_64 = 3;
    /** MAPLE_HEIGHT_MAX. */
    private static final int HEIGHT_LIMIT = 31;

    private final VirtualMemory memory;
    private final Layout layout;
    private final List<Long> entries = new ArrayList<>();
    private final Set<Long> visited = new HashSet<>();

    private MapleTreeWalker(VirtualMemory memory, Layout layout) {
        this.memory = memory;
        this.layout = layout;
    }

    /** The non-null entries reachable from {@code root} (the value of {@code ma_root}), in index order. */
    static List<Long> entries(VirtualMemory memory, long root, Layout layout) throws VmiException {
        MapleTreeWalker walker = new MapleTreeWalker(memory, layout);
        if (isNode(root)) {
            walker.node(root, -1L, 1);
        } else if (root != 0 && !isReserved(root)) {
            walker.entries.add(root); // a single-entry tree stores its entry in the root
        }
        return walker.entries;
    }

    private void node(long encoded, long max, int depth) throws VmiException {
        long node = GuestPointers.kernel(encoded & ~0xffL, "maple node");
        int type = (int) ((encoded >>> 3) & 0xf);
        if (depth > HEIGHT_LIMIT || !visited.add(node) || visited.size() > GuestPointers.WALK_LIMIT) {
            throw new VmiException(String.format("maple tree node %#x is reached twice or the tree is too deep", node), node);
        }
        boolean arange = type == ARANGE_64;
        if (type != LEAF_64 && type != RANGE_64 && !arange) {
            throw new VmiException(String.format("maple tree node %#x has unsupported type %d", node, type), node);
        }
        int slotCount = arange ? layout.arangeSlotCount() : layout.rangeSlotCount();
        long[] pivots = longs(node + (arange ? layout.arangePivots() : layout.rangePivots()), slotCount - 1);
        long[] slots = longs(node + (arange ? layout.arangeSlots() : layout.rangeSlots()), slotCount);
        int end = dataEnd(node, arange, pivots, max);
        for (int i = 0; i <= end; i++) {
            long slot = slots[i];
            if (type == LEAF_64) {
                if (slot != 0 && !isReserved(slot)) {
                    if (entries.size() >= GuestPointers.WALK_LIMIT) {
                        throw new VmiException("maple tree has more than " + GuestPointers.WALK_LIMIT + " entries", node);
                    }
                    entries.add(slot);
                }
            } else if (slot != 0) {
                if ((slot & 3) != 0) { // children are encoded without the root bit (mt_mk_node)
                    throw new VmiException(String.format("maple tree node %#x slot %d is not a node", node, i), node);
                }
                long childMax = i < pivots.length && pivots[i] != 0 ? pivots[i] : max;
                node(slot, childMax, depth + 1);
            }
        }
    }

    private int dataEnd(long node, boolean arange, long[] pivots, long max) throws VmiException {
        int last = pivots.length - 1;
        int end;
        if (arange || pivots[last] == 0) {
            end = memory.readUnsignedByte(node + (arange ? layout.arangeMetaEnd() : layout.rangeMetaEnd()));
        } else if (pivots[last] == max) {
            end = last;
        } else {
            end = pivots.length;
        }
        if (end > pivots.length) {
            throw new VmiException(String.format("maple tree node %#x claims %d slots", node, end + 1), node);
        }
        return end;
    }

    private long[] longs(long address, int count) throws VmiException {
        byte[] bytes = memory.readBytes(address, 8 * count);
        long[] values = new long[count];
        for (int i = 0; i < count; i++) {
            values[i] = Bytes.longAt(bytes, 8 * i);
        }
        return values;
    }

    private static boolean isNode(long entry) {
        return (entry & 3) == 2 && Long.compareUnsigned(entry, 4096) > 0;
    }

    /** mt_is_reserved: internal values below 4096 (XA_ZERO_ENTRY and friends), never user entries. */
    private static boolean isReserved(long entry) {
        return (entry & 3) == 2 && Long.compareUnsigned(entry, 4096) < 0;
    }
}
