package io.vmguard.vmi.linux;

import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Walks a kernel {@code struct list_head} ring (next pointer at offset 0), bounded and cycle-checked. */
final class ListWalker {
    private ListWalker() {}

    /** The addresses of the list_head nodes after {@code head}, up to (not including) the head again. */
    static List<Long> nodes(VirtualMemory memory, long head, String what) throws VmiException {
        List<Long> nodes = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        long next = GuestPointers.kernel(memory.readLong(head), what + " head's next");
        while (next != head) {
            if (!seen.add(next)) {
                throw new VmiException(String.format("%s loops back to %#x without returning to its head %#x",
                        what, next, head), next);
            }
            if (nodes.size() >= GuestPointers.WALK_LIMIT) {
                throw new VmiException(what + " has more than " + GuestPointers.WALK_LIMIT + " entries", head);
            }
            nodes.add(next);
            next = GuestPointers.kernel(memory.readLong(next), what + " entry's next");
        }
        return nodes;
    }

    /** The nodes of an {@code hlist_head} chain (first at offset 0 of the head, next at offset 0 of each node). */
    static List<Long> hlistNodes(VirtualMemory memory, long head, String what) throws VmiException {
        List<Long> nodes = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        long next = memory.readLong(head);
        while (next != 0) {
            GuestPointers.kernel(next, what + " entry");
            if (!seen.add(next) || nodes.size() >= GuestPointers.WALK_LIMIT) {
                throw new VmiException(what + " does not end", next);
            }
            nodes.add(next);
            next = memory.readLong(next);
        }
        return nodes;
    }
}
