package io.vmguard.testing;

import io.vmguard.dma.DmaSpace;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Plays the driver's side of one split virtqueue in a small guest memory, so device and queue tests can
 * offer well-formed requests and, just as easily, malformed ones. Layout: descriptor table at
 * {@link #DESCRIPTORS}, available ring, used ring, then a bump-allocated data area.
 */
public final class DriverRings implements AutoCloseable {
    public static final int NEXT = 1;
    public static final int WRITE = 2;
    public static final int INDIRECT = 4;

    public static final long DESCRIPTORS = 0x1000;
    public static final long MEMORY_BYTES = 1 << 20;

    /** One buffer of a request: {@code length} bytes at {@code address}, device-writable or not. */
    public record Buffer(long address, int length, boolean writable) {
        public static Buffer readable(long address, int length) {
            return new Buffer(address, length, false);
        }

        public static Buffer writable(long address, int length) {
            return new Buffer(address, length, true);
        }
    }

    /** One used-ring entry. */
    public record Used(int head, int length) {}

    private final Arena arena = Arena.ofConfined();
    private final GuestMemory memory;
    private final int size;
    private final long avail;
    private final long used;
    private long nextData;
    private int nextDescriptor;
    private int availIndex;

    public DriverRings(int size) {
        this.size = size;
        MemorySegment ram = arena.allocate(MEMORY_BYTES, 4096);
        this.memory = GuestMemory.wrap(List.of(new MemoryRegion(0, ram)));
        this.avail = DESCRIPTORS + 16L * size;
        this.used = align(avail + 6 + 2L * size, 4);
        this.nextData = align(used + 6 + 8L * size, 4096);
    }

    private static long align(long value, long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    public GuestMemory memory() {
        return memory;
    }

    public DmaSpace dma() {
        return new GuestDmaSpace(memory);
    }

    public Virtqueue.Layout layout() {
        return new Virtqueue.Layout(size, DESCRIPTORS, avail, used);
    }

    /** Reserves {@code length} bytes of the data area (zeroed) and returns their address. */
    public long allocate(int length) {
        long address = nextData;
        nextData = align(nextData + length, 16);
        if (nextData > MEMORY_BYTES) {
            throw new IllegalStateException("DriverRings data area exhausted");
        }
        memory.fill(address, Math.max(length, 1), (byte) 0);
        return address;
    }

    /** Copies {@code bytes} into the data area and returns their address. */
    public long put(byte[] bytes) {
        long address = allocate(bytes.length);
        memory.write(address, bytes);
        return address;
    }

    public byte[] read(long address, int length) {
        return memory.readBytes(address, length);
    }

    /** Writes descriptor {@code index} of the table at {@code table} exactly as given, however wrong. */
    public void writeDescriptor(long table, int index, long address, int length, int flags, int next) {
        long entry = table + 16L * index;
        memory.writeLong(entry, address);
        memory.writeInt(entry + 8, length);
        memory.writeShort(entry + 12, (short) flags);
        memory.writeShort(entry + 14, (short) next);
    }

    /** Chains {@code buffers} in fresh descriptors of the main table and makes the chain available. */
    public int offer(Buffer... buffers) {
        int head = chain(DESCRIPTORS, nextDescriptor, buffers);
        nextDescriptor = (nextDescriptor + buffers.length) % size;
        publish(head);
        return head;
    }

    /** Puts {@code buffers} in an indirect table and makes one descriptor pointing at it available. */
    public int offerIndirect(Buffer... buffers) {
        long table = allocate(16 * buffers.length);
        chain(table, 0, buffers);
        int head = nextDescriptor;
        writeDescriptor(DESCRIPTORS, head, table, 16 * buffers.length, INDIRECT, 0);
        nextDescriptor = (nextDescriptor + 1) % size;
        publish(head);
        return head;
    }

    private int chain(long table, int first, Buffer... buffers) {
        for (int i = 0; i < buffers.length; i++) {
            Buffer buffer = buffers[i];
            boolean last = i == buffers.length - 1;
            int flags = (buffer.writable() ? WRITE : 0) | (last ? 0 : NEXT);
            writeDescriptor(table, (first + i) % size, buffer.address(), buffer.length(), flags, (first + i + 1) % size);
        }
        return first;
    }

    /** Puts {@code head} in the available ring and advances its index. */
    public void publish(int head) {
        memory.writeShort(avail + 4 + 2L * (availIndex % size), (short) head);
        availIndex = (availIndex + 1) & 0xffff;
        memory.writeShort(avail + 2, (short) availIndex);
    }

    /** Sets the available ring's index to anything, e.g. far beyond what was offered. */
    public void setAvailIndex(int index) {
        availIndex = index & 0xffff;
        memory.writeShort(avail + 2, (short) availIndex);
    }

    public void setAvailFlags(int flags) {
        memory.writeShort(avail, (short) flags);
    }

    /** used_event: the driver wants an interrupt once the used index passes it (EVENT_IDX). */
    public void setUsedEvent(int index) {
        memory.writeShort(avail + 4 + 2L * size, (short) index);
    }

    /** avail_event: the device wants a kick once the available index passes it (EVENT_IDX). */
    public int availEvent() {
        return memory.readShort(used + 4 + 8L * size) & 0xffff;
    }

    public int usedIndex() {
        return memory.readShort(used + 2) & 0xffff;
    }

    public Used usedElement(int position) {
        long element = used + 4 + 8L * (position % size);
        return new Used(memory.readInt(element), memory.readInt(element + 4));
    }

    @Override
    public void close() {
        arena.close();
    }
}
