package io.vmguard.vmi;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link PhysicalMemory} over the VMM's guest RAM. A read may span adjacent regions; any byte outside RAM
 * makes the whole read fail (nothing copied), because the address came from the guest.
 */
public final class GuestPhysicalMemory implements PhysicalMemory {
    private final GuestMemory memory;

    public GuestPhysicalMemory(GuestMemory memory) {
        this.memory = memory;
    }

    @Override
    public boolean read(long gpa, byte[] destination, int offset, int length) {
        if (length < 0 || offset < 0 || offset > destination.length - length || gpa < 0) {
            return false;
        }
        if (!covered(gpa, length)) {
            return false;
        }
        long address = gpa;
        int done = 0;
        while (done < length) {
            MemoryRegion region = regionAt(address);
            int piece = (int) Math.min(length - done, region.end() - address);
            MemorySegment.copy(region.backing(), ValueLayout.JAVA_BYTE, address - region.start(), destination,
                    offset + done, piece);
            done += piece;
            address += piece;
        }
        return true;
    }

    @Override
    public long end() {
        return memory.end();
    }

    /** Whether every byte of {@code [gpa, gpa + length)} is RAM (regions may abut). */
    private boolean covered(long gpa, long length) {
        long address = gpa;
        long remaining = length;
        while (remaining > 0) {
            MemoryRegion region = regionAt(address);
            if (region == null) {
                return false;
            }
            long piece = Math.min(remaining, region.end() - address);
            address += piece;
            remaining -= piece;
        }
        return true;
    }

    private MemoryRegion regionAt(long address) {
        for (MemoryRegion region : memory.regions()) {
            if (region.contains(address, 1)) {
                return region;
            }
        }
        return null;
    }
}
