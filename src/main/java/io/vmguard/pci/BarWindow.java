package io.vmguard.pci;

import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import java.lang.foreign.MemorySegment;

/**
 * One BAR window (the 32-bit memory window or the I/O port window) as one bus device: each access goes to
 * the BAR of that kind that decodes it now, if any. Reads nobody decodes see all ones, as on real buses.
 */
final class BarWindow implements BusDevice {
    /** Which kind of BAR the window serves: decoding and the command register's enable bit differ. */
    enum Space { MEMORY, IO }

    private final PciRoot root;
    private final Space space;
    private final BusRange range;

    BarWindow(PciRoot root, Space space, BusRange range) {
        this.root = root;
        this.space = space;
        this.range = range;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        if (!root.accessBar(space, range.base() + offset, data, false)) {
            data.fill((byte) 0xff);
        }
    }

    @Override
    public void write(long offset, MemorySegment data) {
        root.accessBar(space, range.base() + offset, data, true);
    }
}
