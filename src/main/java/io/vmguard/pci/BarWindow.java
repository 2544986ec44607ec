package io.vmguard.pci;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;

/** The 32-bit BAR window as one bus device: each access goes to the BAR that decodes it now, if any. */
final class BarWindow implements BusDevice {
    private final PciRoot root;

    BarWindow(PciRoot root) {
        this.root = root;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        root.readMemory(PciRoot.MMIO_WINDOW.base() + offset, data);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        root.writeMemory(PciRoot.MMIO_WINDOW.base() + offset, data);
    }
}
