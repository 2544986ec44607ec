package io.vmguard.memory;

import java.lang.foreign.MemorySegment;

/**
 * One contiguous piece of guest RAM: guest physical {@code [start, start + size)} backed by {@code backing},
 * an mmap'd host segment that an engine may also hand to the hypervisor (a KVM memory slot).
 */
public record MemoryRegion(long start, MemorySegment backing) {
    public long size() {
        return backing.byteSize();
    }

    public long end() {
        return start + size();
    }

    /** True when {@code [address, address + length)} lies wholly inside this region (overflow-safe). */
    public boolean contains(long address, long length) {
        return length >= 0 && address >= start && address - start <= size() - length;
    }
}
