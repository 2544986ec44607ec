package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.vmi.VmiException;
import java.util.List;
import org.junit.jupiter.api.Test;

class XArrayWalkerTest {
    /** struct xa_node on x86-64: shift at 0, slots at 0x28, 64 of them. */
    private static final XArrayWalker.Layout LAYOUT = new XArrayWalker.Layout(0, 0x28, 64);

    private final KernelHeap heap = new KernelHeap();

    @Test
    void aTwoLevelArrayYieldsEachPointerAtItsIndex() throws VmiException {
        long top = node(6);
        long leafLow = node(0);
        long leafHigh = node(0);
        slot(top, 0, leafLow + 2);
        slot(top, 3, leafHigh + 2);
        slot(leafLow, 1, 0xffff_8880_1111_0000L);
        slot(leafLow, 5, 0x406);                     // XA_ZERO_ENTRY: internal, skipped
        slot(leafLow, 6, 0x2a * 2 + 1);              // a value entry, not a pointer
        slot(leafHigh, 2, 0xffff_8880_2222_0000L);   // index 3 * 64 + 2
        assertEquals(List.of(new XArrayWalker.Entry(1, 0xffff_8880_1111_0000L), new XArrayWalker.Entry(194, 0xffff_8880_2222_0000L)),
                XArrayWalker.entries(heap.memory, top + 2, LAYOUT));
    }

    @Test
    void aSingleEntryLivesInTheHeadAtIndexZero() throws VmiException {
        assertEquals(List.of(new XArrayWalker.Entry(0, 0xffff_8880_1111_0000L)),
                XArrayWalker.entries(heap.memory, 0xffff_8880_1111_0000L, LAYOUT));
        assertEquals(List.of(), XArrayWalker.entries(heap.memory, 0, LAYOUT));
    }

    @Test
    void aNodeThatPointsBackAtItselfIsRejected() {
        long top = node(6);
        slot(top, 0, top + 2);
        assertThrows(VmiException.class, () -> XArrayWalker.entries(heap.memory, top + 2, LAYOUT));
    }

    @Test
    void aChildWithTheWrongShiftIsRejected() {
        long top = node(12);
        long child = node(0);
        slot(top, 0, child + 2);
        assertThrows(VmiException.class, () -> XArrayWalker.entries(heap.memory, top + 2, LAYOUT));
    }

    private long node(int shift) {
        long node = heap.alloc(0x28 + 64 * 8 + 48, 8);
        heap.putByte(node, shift);
        return node;
    }

    private void slot(long node, int index, long value) {
        heap.putLong(node + 0x28 + 8L * index, value);
    }
}
