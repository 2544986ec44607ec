package io.vmguard.testing;

import io.vmguard.dma.DmaSpace;
import io.vmguard.dma.GuestDmaSpace;
import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A small heap-backed guest RAM for device tests, from guest physical 0, with a bump allocator for rings
 * and buffers and the identity DMA door a device would get.
 */
public final class GuestRam {
    private final GuestMemory memory;
    private final DmaSpace dma;
    private long next;

    public GuestRam(int bytes) {
        this.memory = GuestMemory.wrap(List.of(new MemoryRegion(0, MemorySegment.ofArray(new byte[bytes]))));
        this.dma = new GuestDmaSpace(memory);
        this.next = 0x1000; // page 0 stays unused, so a zero address is never a real buffer
    }

    public GuestMemory memory() {
        return memory;
    }

    public DmaSpace dma() {
        return dma;
    }

    /** {@code bytes} of fresh, zeroed guest memory aligned to 16 (enough for every ring part). */
    public long alloc(long bytes) {
        long address = next;
        next = (next + bytes + 15) & ~15L;
        if (next > memory.end()) {
            throw new IllegalStateException("test guest RAM exhausted");
        }
        return address;
    }

    /** Allocates and fills a buffer. */
    public long put(byte[] bytes) {
        long address = alloc(bytes.length);
        memory.write(address, bytes);
        return address;
    }

    public byte[] read(long address, int length) {
        return memory.readBytes(address, length);
    }

    /** An address no DMA may reach: past the end of RAM. */
    public long outside() {
        return memory.end() + 0x10_0000;
    }
}
