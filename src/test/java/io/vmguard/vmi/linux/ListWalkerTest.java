package io.vmguard.vmi.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.vmi.VmiException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ListWalkerTest {
    private final KernelHeap heap = new KernelHeap();

    @Test
    void aRingYieldsItsNodesInOrderWithoutTheHead() throws VmiException {
        long head = heap.alloc(16, 8);
        long a = heap.alloc(16, 8);
        long b = heap.alloc(16, 8);
        heap.putLong(head, a);
        heap.putLong(a, b);
        heap.putLong(b, head);
        assertEquals(List.of(a, b), ListWalker.nodes(heap.memory, head, "test list"));
    }

    @Test
    void aLoopThatSkipsTheHeadIsReportedNotFollowedForever() {
        long head = heap.alloc(16, 8);
        long a = heap.alloc(16, 8);
        long b = heap.alloc(16, 8);
        heap.putLong(head, a);
        heap.putLong(a, b);
        heap.putLong(b, a);
        VmiException failure = assertThrows(VmiException.class, () -> ListWalker.nodes(heap.memory, head, "test list"));
        assertTrue(failure.getMessage().contains("loops back"), failure.getMessage());
    }

    @Test
    void aUserSpaceOrUnmappedNextPointerIsAFailure() {
        long head = heap.alloc(16, 8);
        heap.putLong(head, 0x4000_0000L);
        assertThrows(VmiException.class, () -> ListWalker.nodes(heap.memory, head, "test list"));
        heap.putLong(head, 0xffff_8880_7000_0000L);
        assertThrows(VmiException.class, () -> ListWalker.nodes(heap.memory, head, "test list"));
    }
}
