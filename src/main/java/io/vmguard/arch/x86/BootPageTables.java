package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;

/**
 * Identity page tables for entering the kernel: the first {@link X86Layout#IDENTITY_MAPPED_GIB} GiB with
 * 2 MiB pages. The 64-bit boot protocol needs the kernel, boot_params, command line and initrd identity
 * mapped; all of them live below the MMIO gap.
 */
public final class BootPageTables {
    private static final long PRESENT = 1;
    private static final long WRITABLE = 1 << 1;
    private static final long PAGE_SIZE_2M = 1 << 7;
    private static final long TWO_MIB = 2L << 20;

    private BootPageTables() {}

    /** Writes the tables and returns the value for CR3. */
    public static long writeTo(GuestMemory memory) {
        memory.writeLong(X86Layout.PML4, X86Layout.PDPT | PRESENT | WRITABLE);
        for (int gib = 0; gib < X86Layout.IDENTITY_MAPPED_GIB; gib++) {
            long directory = X86Layout.PAGE_DIRECTORIES + gib * 0x1000L;
            memory.writeLong(X86Layout.PDPT + gib * 8L, directory | PRESENT | WRITABLE);
            for (int entry = 0; entry < 512; entry++) {
                long physical = ((long) gib << 30) + entry * TWO_MIB;
                memory.writeLong(directory + entry * 8L, physical | PRESENT | WRITABLE | PAGE_SIZE_2M);
            }
        }
        return X86Layout.PML4;
    }
}
