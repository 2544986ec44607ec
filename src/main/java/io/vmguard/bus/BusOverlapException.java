package io.vmguard.bus;

/** A registration whose range overlaps a device already on the bus. */
public final class BusOverlapException extends IllegalArgumentException {
    public BusOverlapException(String message) {
        super(message);
    }
}
