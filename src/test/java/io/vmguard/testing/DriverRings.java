package io.vmguard.testing;

import io.vmguard.dma.DmaSpace;
import io.vmguard.memory.GuestMemory;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Virtqueue;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The driver's side of one split virtqueue, for device tests: lays out the descriptor table and both rings
 * in guest memory, makes chains available the way a driver does (direct or through an indirect table),
 * and reads back what the device put in the used ring. The raw setters write anything at all (bogus
 * indices, loops, flags), so malformed-queue tests can build what no sane driver would.
 *
 * <p>Not thread-safe: tests that race a device's own thread against the driver side serialise themselves.
 */
public final class DriverRings {
    public static final int F_NEXT = 1;
    public static final int F_WRITE = 2;
    public static final int F_INDIRECT = 4;

    /** One buffer of a chain, as the driver describes it. */
    public record Buffer(long address, long length, boolean writable) {
        public static Buffer readable(long address, long length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(long address, long length) {
            return new Buffer(address, length, true);
        }
    }

    /** One used-ring element: the chain's head and the byte count the device reported. */
    public record Used(int head, int length) {}

    private final GuestMemory memory;
    private final int size;
    private final long descriptors;
    private final long avail;
    private final long used;
    private final Deque<Integer> free = new ArrayDeque<>();
    /** The descriptors each published head holds, returned to the free list when the device uses it. */
    private final Map<Integer, List<Integer>> inFlight = new HashMap<>();
    private int availIndex;
    private int usedSeen;

    /** Lays a queue of {@code size} entries out in {@code ram}. */
    public DriverRings(GuestRam ram, int size) {
        this.memory = ram.memory();
        this.size = size;
        this.descriptors = ram.alloc(16L * size);
        this.avail = ram.alloc(6 + 2L * size);
        this.used = ram.alloc(6 + 8L * size);
        for (int i = 0; i < size; i++) {
            free.add(i);
        }
    }

    public int size() {
        return size;
    }

    public Virtqueue.Layout layout() {
        return new Virtqueue.Layout(size, descriptors, avail, used);
    }

    /** The device's view of these rings, as the transport would create it at DRIVER_OK. */
    public Virtqueue deviceQueue(DmaSpace dma, long features) throws QueueException {
        return Virtqueue.create(dma, layout(), features);
    }

    /** Makes a chain of direct descriptors available; returns its head. */
    public int offer(Buffer... buffers) {
        if (buffers.length == 0 || buffers.length > free.size()) {
            throw new IllegalStateException("cannot offer " + buffers.length + " buffers with " + free.size() + " free descriptors");
        }
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < buffers.length; i++) {
            indices.add(free.poll());
        }
        for (int i = 0; i < buffers.length; i++) {
            Buffer buffer = buffers[i];
            boolean last = i == buffers.length - 1;
            descriptor(indices.get(i), buffer.address(), buffer.length(),
                    (buffer.writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : indices.get(i + 1));
        }
        int head = indices.getFirst();
        inFlight.put(head, indices);
        publish(head);
        return head;
    }

    /**
     * Makes a chain available through one ring descriptor pointing at an indirect table the caller
     * placed at {@code table} (16 bytes per buffer, 16-aligned); returns its head.
     */
    public int offerIndirect(long table, Buffer... buffers) {
        for (int i = 0; i < buffers.length; i++) {
            Buffer buffer = buffers[i];
            boolean last = i == buffers.length - 1;
            writeDescriptor(table + 16L * i, buffer.address(), buffer.length(),
                    (buffer.writable() ? F_WRITE : 0) | (last ? 0 : F_NEXT), last ? 0 : i + 1);
        }
        int head = free.poll();
        descriptor(head, table, 16L * buffers.length, F_INDIRECT, 0);
        inFlight.put(head, List.of(head));
        publish(head);
        return head;
    }

    /** Writes descriptor {@code index} of the ring's table, whatever it says. */
    public void descriptor(int index, long address, long length, int flags, int next) {
        writeDescriptor(descriptors + 16L * index, address, length, flags, next);
    }

    /** Writes the 16-byte descriptor at guest address {@code at} (any table, e.g. an indirect one). */
    public void writeDescriptor(long at, long address, long length, int flags, int next) {
        memory.writeLong(at, address);
        memory.writeInt(at + 8, (int) length);
        memory.writeShort(at + 12, (short) flags);
        memory.writeShort(at + 14, (short) next);
    }

    /** Puts {@code head} in the next available-ring slot and publishes it by bumping the index. */
    public void publish(int head) {
        memory.writeShort(avail + 4 + 2L * (availIndex % size), (short) head);
        // As a driver's virtio_wmb(): a device on another thread must see the entry before the index.
        VarHandle.releaseFence();
        availIndex = (availIndex + 1) & 0xffff;
        memory.writeShort(avail + 2, (short) availIndex);
    }

    /** Overwrites avail->idx (the driver's count of published chains), e.g. with a lie. */
    public void setAvailIndex(int index) {
        availIndex = index & 0xffff;
        memory.writeShort(avail + 2, (short) availIndex);
    }

    /** avail->flags: {@code 1} asks the device not to interrupt. */
    public void setAvailFlags(int flags) {
        memory.writeShort(avail, (short) flags);
    }

    /** used_event (EVENT_IDX): interrupt once the used index passes this value. */
    public void setUsedEvent(int index) {
        memory.writeShort(avail + 4 + 2L * size, (short) index);
    }

    /** avail_event (EVENT_IDX): the device asks for a kick when the available index passes this value. */
    public int availEvent() {
        return memory.readShort(used + 4 + 8L * size) & 0xffff;
    }

    /** used->flags: {@code 1} (VRING_USED_F_NO_NOTIFY) asks the driver not to kick (without EVENT_IDX). */
    public int usedFlags() {
        return memory.readShort(used) & 0xffff;
    }

    /** Writes used->flags, as a ring restored from a snapshot may hold them. */
    public void setUsedFlags(int flags) {
        memory.writeShort(used, (short) flags);
    }

    /**
     * Whether Linux's driver kicks after publishing buffers that moved the available index from {@code old}
     * to {@code now}, with EVENT_IDX (vring_need_event against avail_event).
     */
    public boolean kickWanted(int old, int now) {
        return ((now - availEvent() - 1) & 0xffff) < ((now - old) & 0xffff);
    }

    /** used->idx as the device last wrote it. */
    public int usedIndex() {
        return memory.readShort(used + 2) & 0xffff;
    }

    /** The elements the device used since the last call, in order; their descriptors become free again. */
    public List<Used> takeUsed() {
        List<Used> result = new ArrayList<>();
        int deviceIndex = usedIndex();
        VarHandle.acquireFence(); // the elements are read after the index that published them
        while (usedSeen != deviceIndex) {
            long element = used + 4 + 8L * (usedSeen % size);
            Used entry = new Used(memory.readInt(element), memory.readInt(element + 4));
            List<Integer> held = inFlight.remove(entry.head());
            if (held != null) {
                free.addAll(held);
            }
            result.add(entry);
            usedSeen = (usedSeen + 1) & 0xffff;
        }
        return result;
    }
}
