package io.vmguard.bus;

import java.lang.foreign.MemorySegment;

/**
 * A device reachable at a range of a {@link Bus}. Offsets are relative to the start of the range the
 * device was registered at; {@code data}'s size is the access width (1, 2, 4 or 8 bytes, little-endian),
 * and the access is naturally aligned and lies inside the range: the {@link Bus} splits any other.
 *
 * <p>Calls come from vCPU threads; a device serialises its own state.
 */
public interface BusDevice {
    /** Fills {@code data} with the value read at {@code offset}. */
    void read(long offset, MemorySegment data);

    /** Takes the value written at {@code offset}. */
    void write(long offset, MemorySegment data);
}
