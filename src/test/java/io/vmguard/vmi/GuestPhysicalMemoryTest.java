package io.vmguard.vmi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class GuestPhysicalMemoryTest {
    private final GuestMemory ram = GuestMemory.wrap(List.of(
            new MemoryRegion(0, MemorySegment.ofArray(new byte[0x2000])),
            new MemoryRegion(0x2000, MemorySegment.ofArray(new byte[0x1000])),
            new MemoryRegion(0x10000, MemorySegment.ofArray(new byte[0x1000]))));
    private final GuestPhysicalMemory physical = new GuestPhysicalMemory(ram);

    @Test
    void aReadAcrossAbuttingRegionsCopiesBothParts() {
        ram.writeShort(0x1ffe, (short) 0x0201);
        ram.writeShort(0x2000, (short) 0x0403);
        byte[] bytes = new byte[4];
        assertTrue(physical.read(0x1ffe, bytes, 0, 4));
        assertArrayEquals(new byte[] {1, 2, 3, 4}, bytes);
    }

    @Test
    void holesNegativeAddressesAndBadLengthsFailWithoutThrowing() {
        byte[] bytes = new byte[8];
        assertFalse(physical.read(0x2ffc, bytes, 0, 8), "runs into the hole after 0x3000");
        assertFalse(physical.read(0x8000, bytes, 0, 1));
        assertFalse(physical.read(-8, bytes, 0, 8));
        assertFalse(physical.read(Long.MAX_VALUE, bytes, 0, 8));
        assertFalse(physical.read(0, bytes, 4, 8));
        assertTrue(physical.read(0x10ff8, bytes, 0, 8));
    }
}
