package io.vmguard.pci;

import java.lang.foreign.MemorySegment;

/**
 * A PCI function on vmguard's root bus: its configuration space and what its memory BARs do.
 *
 * <p>A device builds its {@link PciConfigSpace} (IDs, class, BARs, interrupt pin, capabilities) and hands
 * itself to {@link PciRoot#add}, which places it in the next slot, gives its BARs addresses and wires
 * its INTx pin. From then on the guest may move the BARs or turn their decoding off; the root follows
 * the registers and calls {@link #readBar}/{@link #writeBar} with offsets inside the BAR, so a device
 * never sees guest-physical addresses.
 *
 * <p>Calls come from vCPU threads (possibly several at once); a device serialises its own state. Every
 * access is guest-driven: unknown offsets read as 0 or all ones and writes to them are dropped; nothing
 * here may throw for what a guest does.
 */
public interface PciDevice {
    PciConfigSpace config();

    /**
     * A configuration read of {@code size} (1-4) bytes at {@code offset} (0-4095). A device overrides
     * this (and {@link #writeConfig}) only to add behaviour its capabilities cannot express.
     */
    default int readConfig(int offset, int size) {
        return config().read(offset, size);
    }

    default void writeConfig(int offset, int size, int value) {
        config().write(offset, size, value);
    }

    /** Fills {@code data} (1, 2, 4 or 8 bytes, little-endian) from {@code offset} inside BAR {@code bar}. */
    void readBar(int bar, long offset, MemorySegment data);

    /** Takes {@code data} written at {@code offset} inside BAR {@code bar}. */
    void writeBar(int bar, long offset, MemorySegment data);
}
