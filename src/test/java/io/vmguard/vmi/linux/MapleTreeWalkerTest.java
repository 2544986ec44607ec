package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.vmi.VmiException;
import java.util.List;
import org.junit.jupiter.api.Test;

class MapleTreeWalkerTest {
    /**
     * The x86-64 layouts: maple_range_64 has parent, pivot[15] at 8, slot[16] at 0x80 with the metadata's
     * end in the last slot's first byte (0xf8); maple_arange_64 has pivot[9] at 8, slot[10] at 0x50, gap[10],
     * metadata end at 0xf0.
     */
    private static final MapleTreeWalker.Layout LAYOUT = new MapleTreeWalker.Layout(8, 0x80, 0xf8, 16, 8, 0x50, 0xf0, 10);
    private static final int LEAF = 1;
    private static final int ARANGE = 3;

    private final KernelHeap heap = new KernelHeap();

    @Test
    void anAllocationTreeOfTwoLeavesYieldsEveryEntryInOrder() throws VmiException {
        long left = node();
        pivots(left, false, 0x1000, 0x1fff, 0x3fff);
        slots(left, false, 0, vma(1), 0, vma(2));        // gaps are NULL slots
        heap.putByte(left + 0xf8, 3);                   // last pivot unset: the metadata says slot 3 ends the data
        long right = node();
        pivots(right, false, 0x7fff, 0x8fff);
        slots(right, false, vma(3), 0x406 /* reserved */, vma(4));
        heap.putByte(right + 0xf8, 2);
        long root = node();
        pivots(root, true, 0x3fff);
        slots(root, true, encode(left, LEAF), encode(right, LEAF));
        heap.putByte(root + 0xf0, 1);
        assertEquals(List.of(vma(1), vma(2), vma(3), vma(4)),
                MapleTreeWalker.entries(heap.memory, encode(root, ARANGE) | 2, LAYOUT));
    }

    @Test
    void aFullLeafUsesEverySlotWithoutMetadata() throws VmiException {
        long leaf = node();
        long[] pivots = new long[15];
        long[] slots = new long[16];
        for (int i = 0; i < 16; i++) {
            if (i < 15) {
                pivots[i] = 0x1000L * (i + 1);
            }
            slots[i] = vma(i);
        }
        pivots(leaf, false, pivots);
        slots(leaf, false, slots);
        // the last slot's pointer overlaps the metadata, so ma_data_end must not read it as metadata
        assertEquals(16, MapleTreeWalker.entries(heap.memory, encode(leaf, LEAF) | 2, LAYOUT).size());
    }

    @Test
    void aLoopInTheTreeOrAnUnknownNodeTypeIsRejected() {
        long root = node();
        pivots(root, true, 0x1000);
        slots(root, true, encode(root, ARANGE));
        heap.putByte(root + 0xf0, 0);
        assertThrows(VmiException.class, () -> MapleTreeWalker.entries(heap.memory, encode(root, ARANGE) | 2, LAYOUT));
        long dense = node();
        assertThrows(VmiException.class, () -> MapleTreeWalker.entries(heap.memory, encode(dense, 0) | 2, LAYOUT));
    }

    private long node() {
        return heap.alloc(256, 256);
    }

    private static long encode(long node, int type) {
        return node | (long) type << 3 | 4;
    }

    private static long vma(int i) {
        return 0xffff_8880_0100_0000L + 0x100L * i;
    }

    private void pivots(long node, boolean arange, long... values) {
        for (int i = 0; i < values.length; i++) {
            heap.putLong(node + 8 + 8L * i, values[i]);
        }
    }

    private void slots(long node, boolean arange, long... values) {
        for (int i = 0; i < values.length; i++) {
            heap.putLong(node + (arange ? 0x50 : 0x80) + 8L * i, values[i]);
        }
    }
}
