package io.vmguard.pci;

import io.vmguard.bus.BusDevice;
import java.lang.foreign.MemorySegment;

/** The I/O BAR window as one port-I/O bus device: each access goes to the I/O BAR that decodes it now, if any. */
final class IoBarWindow implements BusDevice {
    private final PciRoot root;

    IoBarWindow(PciRoot root) {
        this.root = root;
    }

    @Override
    public void read(long offset, MemorySegment data) {
        root.readIo(PciRoot.IO_WINDOW.base() + offset, data);
    }

    @Override
    public void write(long offset, MemorySegment data) {
        root.writeIo(PciRoot.IO_WINDOW.base() + offset, data);
    }
}
