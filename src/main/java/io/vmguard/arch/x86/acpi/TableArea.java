package io.vmguard.arch.x86.acpi;

import io.vmguard.memory.GuestMemory;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest-physical range the ACPI tables go in, handed out front to back. Tables are placed first and
 * written to guest memory together at the end, so a set that does not fit leaves memory untouched.
 */
final class TableArea {
    /** Linux scans for the RSDP on 16-byte boundaries; the other tables are aligned alike for neatness. */
    static final int ALIGNMENT = 16;

    private record Placed(long address, byte[] bytes) {}

    private final long start;
    private final long end;
    private final List<Placed> placed = new ArrayList<>();
    private long next;

    TableArea(long start, long end) {
        if ((start & (ALIGNMENT - 1)) != 0 || end <= start) {
            throw new IllegalArgumentException(String.format("bad ACPI table area [0x%x, 0x%x)", start, end));
        }
        this.start = start;
        this.end = end;
        this.next = start;
    }

    /** Places {@code table} (its first four bytes name it in errors) and returns its address. */
    long add(byte[] table) {
        long address = reserve(new String(table, 0, 4, StandardCharsets.US_ASCII), table.length);
        placed.add(new Placed(address, table));
        return address;
    }

    /** Sets aside {@code size} bytes for a structure whose contents come later ({@link #fill}). */
    long reserve(String what, int size) {
        long address = next;
        if (size > end - address) {
            throw new IllegalArgumentException(String.format(
                    "ACPI tables do not fit in [0x%x, 0x%x): the %s (%d bytes) would end at 0x%x", start, end, what, size,
                    address + size));
        }
        next = (address + size + ALIGNMENT - 1) & -ALIGNMENT;
        return address;
    }

    /** Supplies the contents of a reserved structure. */
    void fill(long address, byte[] bytes) {
        placed.add(new Placed(address, bytes));
    }

    void writeTo(GuestMemory memory) {
        for (Placed table : placed) {
            memory.write(table.address(), table.bytes());
        }
    }
}
