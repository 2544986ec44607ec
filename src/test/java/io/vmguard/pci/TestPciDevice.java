package io.vmguard.pci;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A PCI function for tests: a given config space; BAR reads answer a pattern of BAR, offset and width
 * (so a test sees which BAR and offset an address reached), writes are recorded, and an optional MSI-X
 * capability gets first go at BAR accesses, as a real device forwards them.
 */
final class TestPciDevice implements PciDevice {
    record Access(int bar, long offset, int width, long value) {}

    private final PciConfigSpace config;
    private final MsixCapability msix;
    private final List<Access> writes = new ArrayList<>();

    TestPciDevice(PciConfigSpace config) {
        this(config, null);
    }

    TestPciDevice(PciConfigSpace config, MsixCapability msix) {
        this.config = config;
        this.msix = msix;
    }

    /** What a read of {@code width} bytes at {@code offset} of BAR {@code bar} answers. */
    static long pattern(int bar, long offset, int width) {
        long value = 0xb0_0000_0000L * (bar + 1) + (offset << 4) + width;
        return width == 8 ? value : value & ((1L << (8 * width)) - 1);
    }

    @Override
    public PciConfigSpace config() {
        return config;
    }

    @Override
    public void readBar(int bar, long offset, MemorySegment data) {
        if (msix != null && msix.readBar(bar, offset, data)) {
            return;
        }
        Bytes.store(data, pattern(bar, offset, (int) data.byteSize()));
    }

    @Override
    public synchronized void writeBar(int bar, long offset, MemorySegment data) {
        if (msix != null && msix.writeBar(bar, offset, data)) {
            return;
        }
        writes.add(new Access(bar, offset, (int) data.byteSize(), Bytes.load(data)));
    }

    synchronized List<Access> writes() {
        return List.copyOf(writes);
    }
}
