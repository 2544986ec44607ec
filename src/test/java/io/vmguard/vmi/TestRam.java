package io.vmguard.vmi;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.Arena;
import java.util.List;

/** Heap-free test guest RAM from guest-physical 0 (an arena segment, zeroed). */
public final class TestRam {
    private TestRam() {}

    public static GuestMemory of(long bytes) {
        return GuestMemory.wrap(List.of(new MemoryRegion(0, Arena.ofAuto().allocate(bytes, 4096))));
    }
}
