package io.vmguard.vmi;

import io.vmguard.memory.GuestMemory;

/**
 * Writes x86-64 paging structures into a test guest's RAM: tables are taken from {@code tableArea} upward,
 * one zeroed 4 KiB page each.
 */
public final class PageTableBuilder {
    public static final long PRESENT = 1;
    public static final long WRITABLE = 1 << 1;
    public static final long USER = 1 << 2;
    public static final long NO_EXECUTE = 1L << 63;
    private static final long LARGE = 1 << 7;
    private static final long ADDRESS_MASK = 0x000f_ffff_ffff_f000L;

    private final GuestMemory memory;
    private final boolean fiveLevel;
    private final long root;
    private long next;

    public PageTableBuilder(GuestMemory memory, long tableArea, boolean fiveLevel) {
        this.memory = memory;
        this.fiveLevel = fiveLevel;
        this.next = tableArea;
        this.root = newTable();
    }

    public long root() {
        return root;
    }

    /** The first guest-physical byte past the tables made so far. */
    public long end() {
        return next;
    }

    public PageTableBuilder map(long virtualAddress, long physicalAddress, PageSize size) {
        return map(virtualAddress, physicalAddress, size, PRESENT | WRITABLE);
    }

    /** Maps one page of {@code size}; intermediate entries get P|W|U so that the leaf's flags decide. */
    public PageTableBuilder map(long virtualAddress, long physicalAddress, PageSize size, long flags) {
        int leafLevel = switch (size) {
            case SIZE_4K -> 1;
            case SIZE_2M -> 2;
            case SIZE_1G -> 3;
        };
        long table = root;
        for (int level = fiveLevel ? 5 : 4; level > leafLevel; level--) {
            long slot = table + index(virtualAddress, level) * 8L;
            long entry = memory.readLong(slot);
            if ((entry & PRESENT) == 0) {
                entry = newTable() | PRESENT | WRITABLE | USER;
                memory.writeLong(slot, entry);
            }
            table = entry & ADDRESS_MASK;
        }
        long leaf = physicalAddress | flags | (leafLevel > 1 ? LARGE : 0);
        memory.writeLong(table + index(virtualAddress, leafLevel) * 8L, leaf);
        return this;
    }

    /** Maps {@code length} bytes page by page. */
    public PageTableBuilder mapRange(long virtualAddress, long physicalAddress, long length, PageSize size) {
        for (long done = 0; done < length; done += size.bytes()) {
            map(virtualAddress + done, physicalAddress + done, size);
        }
        return this;
    }

    /** Writes a raw entry at {@code level} for {@code virtualAddress} (the path to it must exist). */
    public void setEntry(long virtualAddress, int level, long value) {
        long table = root;
        for (int l = fiveLevel ? 5 : 4; l > level; l--) {
            table = memory.readLong(table + index(virtualAddress, l) * 8L) & ADDRESS_MASK;
        }
        memory.writeLong(table + index(virtualAddress, level) * 8L, value);
    }

    private long newTable() {
        long table = next;
        memory.fill(table, 4096, (byte) 0);
        next += 4096;
        return table;
    }

    private static int index(long virtualAddress, int level) {
        return (int) ((virtualAddress >>> (12 + 9 * (level - 1))) & 511);
    }
}
