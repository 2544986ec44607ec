package io.vmguard.arch.x86;

import io.vmguard.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;

/**
 * The relocation table a relocatable x86-64 kernel's build appends after the ELF in a bzImage's payload
 * ({@code arch/x86/tools/relocs}): read from the end backwards, 32-bit sign-extended relocations, then
 * inverse 32-bit ones, then 64-bit ones, each list ended by a zero. Each entry is the link-time virtual
 * address of a field that holds a kernel address. Applied as the kernel's decompressor applies them to move
 * the kernel's virtual addresses by a KASLR slide (arch/x86/boot/compressed/misc.c, handle_relocations).
 */
record KernelRelocations(int[] sign32, int[] inverse32, int[] absolute64) {
    /** __START_KERNEL_map: the kernel's virtual address of physical 0 at link time. */
    static final long START_KERNEL_MAP = 0xffff_ffff_8000_0000L;

    /**
     * The table in {@code payload[elfEnd..]}, or empty when there is none (a kernel built without
     * CONFIG_RELOCATABLE, or one whose table is malformed: such a kernel is booted where it was linked).
     */
    static Optional<KernelRelocations> parse(byte[] payload, long elfEnd) {
        long tail = payload.length - elfEnd;
        if (elfEnd < 0 || tail < 12 || tail % 4 != 0) {
            return Optional.empty();
        }
        ByteBuffer table = ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN);
        int[] cursor = {payload.length - 4};
        int[] sign32 = list(table, cursor, (int) elfEnd);
        int[] inverse32 = sign32 == null ? null : list(table, cursor, (int) elfEnd);
        int[] absolute64 = inverse32 == null ? null : list(table, cursor, (int) elfEnd);
        if (absolute64 == null) {
            return Optional.empty();
        }
        return Optional.of(new KernelRelocations(sign32, inverse32, absolute64));
    }

    /** One list, read backwards from {@code cursor} to its zero (consumed); null if it runs past {@code floor}. */
    private static int[] list(ByteBuffer table, int[] cursor, int floor) {
        int start = cursor[0];
        int at = start;
        while (at >= floor && table.getInt(at) != 0) {
            at -= 4;
        }
        if (at < floor) {
            return null;
        }
        int[] entries = new int[(start - at) / 4];
        for (int i = 0; i < entries.length; i++) {
            entries[i] = table.getInt(start - 4 * i);
        }
        cursor[0] = at - 4;
        return entries;
    }

    int count() {
        return sign32.length + inverse32.length + absolute64.length;
    }

    /**
     * Moves the kernel loaded at its link-time physical addresses (its {@code segments}) by {@code slide}
     * bytes of virtual address. Every field must lie inside a loaded segment: the table comes from the
     * kernel file, and a write outside the kernel would land on the boot structures; all are checked before
     * the first is written.
     */
    void apply(GuestMemory memory, List<ElfKernel.Segment> segments, long slide) throws KernelLoadException {
        for (int entry : sign32) {
            field(entry, 4, segments);
        }
        for (int entry : inverse32) {
            field(entry, 4, segments);
        }
        for (int entry : absolute64) {
            field(entry, 8, segments);
        }
        for (int entry : sign32) {
            long at = field(entry, 4, segments);
            memory.writeInt(at, (int) (memory.readInt(at) + slide));
        }
        for (int entry : inverse32) {
            long at = field(entry, 4, segments);
            memory.writeInt(at, (int) (memory.readInt(at) - slide));
        }
        for (int entry : absolute64) {
            long at = field(entry, 8, segments);
            memory.writeLong(at, memory.readLong(at) + slide);
        }
    }

    /** The guest physical address of the field an entry names (its sign-extended virtual address). */
    private static long field(int entry, int width, List<ElfKernel.Segment> segments) throws KernelLoadException {
        long physical = (long) entry - START_KERNEL_MAP;
        for (ElfKernel.Segment segment : segments) {
            if (physical >= segment.address() && physical - segment.address() <= segment.memorySize() - width) {
                return physical;
            }
        }
        throw new KernelLoadException(String.format("the kernel's relocation table names 0x%x, outside the kernel", (long) entry));
    }
}
