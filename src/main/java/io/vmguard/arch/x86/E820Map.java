package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's e820 memory map, derived from guest RAM: the first 640 KiB less the EBDA is usable, the
 * legacy hole up to 1 MiB is not listed (the ACPI tables live there, out of the kernel's allocator's
 * reach), and every byte of RAM from 1 MiB up is usable. The PCI ECAM window in the MMIO gap is listed as
 * reserved: Linux trusts MCFG's ECAM early in boot only if e820 reserves it (arch/x86/pci/mmconfig-shared.c).
 */
public final class E820Map {
    /** boot_params has room for 128 entries. */
    public static final int MAX_ENTRIES = 128;

    private E820Map() {}

    public static List<E820Entry> of(GuestMemory memory) {
        List<E820Entry> entries = new ArrayList<>();
        for (MemoryRegion region : memory.regions()) {
            long start = region.start();
            long end = region.end();
            if (start < X86Layout.EBDA_START) {
                entries.add(new E820Entry(start, Math.min(end, X86Layout.EBDA_START) - start, E820Entry.Type.RAM));
            }
            long high = Math.max(start, X86Layout.HIGH_MEMORY_START);
            if (end > high) {
                entries.add(new E820Entry(high, end - high, E820Entry.Type.RAM));
            }
        }
        entries.add(new E820Entry(X86Layout.PCI_ECAM, X86Layout.PCI_ECAM_SIZE, E820Entry.Type.RESERVED));
        entries.sort(java.util.Comparator.comparingLong(E820Entry::address));
        if (entries.size() > MAX_ENTRIES) {
            throw new IllegalStateException("e820 map has " + entries.size() + " entries; boot_params holds " + MAX_ENTRIES);
        }
        return List.copyOf(entries);
    }
}
