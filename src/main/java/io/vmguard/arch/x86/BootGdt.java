package io.vmguard.arch.x86;

import io.vmguard.engine.Segment;
import io.vmguard.memory.GuestMemory;

/**
 * The GDT the kernel is entered with: null, 64-bit code, data, and a placeholder TSS. The kernel loads its
 * own GDT within its first instructions; these only have to make long mode consistent.
 */
public final class BootGdt {
    public static final int CODE_SELECTOR = 0x08;
    public static final int DATA_SELECTOR = 0x10;
    public static final int TSS_SELECTOR = 0x18;

    // Descriptor "flags" words as Firecracker writes them: G/DB/L/AVL in the high nibble, P/DPL/S/type below.
    private static final int CODE64_FLAGS = 0xa09b;
    private static final int DATA_FLAGS = 0xc093;
    private static final int TSS_FLAGS = 0x808b;
    private static final int FLAT_LIMIT = 0xfffff;

    private static final long[] ENTRIES = {
        0,
        descriptor(CODE64_FLAGS, 0, FLAT_LIMIT),
        descriptor(DATA_FLAGS, 0, FLAT_LIMIT),
        descriptor(TSS_FLAGS, 0, FLAT_LIMIT),
    };

    private BootGdt() {}

    /** Encodes a segment descriptor from its flags word, base and 20-bit limit. */
    public static long descriptor(int flags, long base, int limit) {
        return ((base & 0xff00_0000L) << 32)
                | ((long) (flags & 0xf0ff) << 40)
                | ((long) (limit & 0xf_0000) << 32)
                | ((base & 0x00ff_ffffL) << 16)
                | (limit & 0xffffL);
    }

    public static Segment code() {
        return Segment.fromDescriptor(ENTRIES[1], CODE_SELECTOR);
    }

    public static Segment data() {
        return Segment.fromDescriptor(ENTRIES[2], DATA_SELECTOR);
    }

    public static Segment tss() {
        return Segment.fromDescriptor(ENTRIES[3], TSS_SELECTOR);
    }

    /** Size in bytes minus one, as GDTR holds it. */
    public static int limit() {
        return ENTRIES.length * 8 - 1;
    }

    /** Writes the GDT at {@link X86Layout#BOOT_GDT} and an empty IDT at {@link X86Layout#BOOT_IDT}. */
    public static void writeTo(GuestMemory memory) {
        for (int i = 0; i < ENTRIES.length; i++) {
            memory.writeLong(X86Layout.BOOT_GDT + i * 8L, ENTRIES[i]);
        }
        memory.writeLong(X86Layout.BOOT_IDT, 0);
    }
}
