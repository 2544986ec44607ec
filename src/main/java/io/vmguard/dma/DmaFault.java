package io.vmguard.dma;

/**
 * A device tried to reach memory it may not: the guest gave it a bad address (a driver bug or an attack).
 * This is a guest error, reported to the guest by the device (an I/O error status or NEEDS_RESET), never
 * an error of the VMM.
 */
public final class DmaFault extends Exception {
    /** Which way the data would have moved, seen from the device. */
    public enum Access {
        READ, WRITE
    }

    private final long address;
    private final long length;
    private final Access access;

    public DmaFault(long address, long length, Access access, String reason) {
        super("DMA " + access.name().toLowerCase(java.util.Locale.ROOT) + " of " + length + " bytes at 0x"
                + Long.toHexString(address) + ": " + reason, null, false, false);
        this.address = address;
        this.length = length;
        this.access = access;
    }

    public long address() {
        return address;
    }

    public long length() {
        return length;
    }

    public Access access() {
        return access;
    }
}
