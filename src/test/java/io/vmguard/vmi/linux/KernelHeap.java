package io.vmguard.vmi.linux;

import io.vmguard.memory.GuestMemory;
import io.vmguard.vmi.GuestPhysicalMemory;
import io.vmguard.vmi.PageSize;
import io.vmguard.vmi.PageTableBuilder;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.TestRam;
import io.vmguard.vmi.VirtualMemory;

/**
 * A test guest with 2 MiB of "kernel heap" at a direct-map-like address and a bump allocator, for walking
 * hand-built kernel structures.
 */
final class KernelHeap {
    static final long BASE = 0xffff_8880_0040_0000L;
    private static final long PHYSICAL = 0x40_0000;

    final GuestMemory ram = TestRam.of(8 << 20);
    final PageTableBuilder tables = new PageTableBuilder(ram, 0x10_0000, false);
    final VirtualMemory memory;
    private long next = BASE + 0x1000;

    KernelHeap() {
        tables.map(BASE, PHYSICAL, PageSize.SIZE_2M);
        GuestPhysicalMemory physical = new GuestPhysicalMemory(ram);
        memory = new VirtualMemory(physical, new PageTableWalker(physical, tables.root(), false));
    }

    /** {@code bytes} zeroed bytes aligned to {@code alignment}. */
    long alloc(long bytes, long alignment) {
        next = (next + alignment - 1) & -alignment;
        long address = next;
        next += bytes;
        return address;
    }

    void putLong(long address, long value) {
        ram.writeLong(address - BASE + PHYSICAL, value);
    }

    void putByte(long address, int value) {
        ram.writeByte(address - BASE + PHYSICAL, (byte) value);
    }

    void putBytes(long address, byte[] bytes) {
        ram.write(address - BASE + PHYSICAL, bytes);
    }
}
