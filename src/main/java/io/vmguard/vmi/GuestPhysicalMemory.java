package io.vmguard.vmi;

import io.vmguard.memory.GuestMemory;

/** {@link PhysicalMemory} over the VM's RAM; an address outside RAM (MMIO, holes, beyond the end) reads as failure. */
public final class GuestPhysicalMemory implements PhysicalMemory {
    private final GuestMemory memory;

    public GuestPhysicalMemory(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public boolean read(long gpa, byte[] destination, int offset, int length) {
        if (gpa < 0 || length < 0 || !memory.contains(gpa, length)) {
            return false;
        }
        java.lang.foreign.MemorySegment.copy(memory.slice(gpa, length), java.lang.foreign.ValueLayout.JAVA_BYTE, 0,
                destination, offset, length);
        return true;
    }

    @Override
    public java.util.List<Range> ranges() {
        return memory.regions().stream().map(region -> new Range(region.start(), region.size())).toList();
    }

    @Override
    public long end() {
        return memory.end();
    }
}
