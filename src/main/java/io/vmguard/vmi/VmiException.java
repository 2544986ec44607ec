package io.vmguard.vmi;

import java.util.OptionalLong;

/**
 * Introspection could not read or make sense of guest state: an unmapped address, a pointer outside guest
 * RAM, a list that never closes, a table that fails validation. The guest controls all of these, so this is
 * an expected outcome, not a bug: the exception carries no stack trace, only a message that says what was
 * being read and where.
 */
public class VmiException extends Exception {
    private final OptionalLong address;

    public VmiException(String message) {
        this(message, OptionalLong.empty());
    }

    public VmiException(String message, long address) {
        this(message, OptionalLong.of(address));
    }

    private VmiException(String message, OptionalLong address) {
        super(message, null, false, false);
        this.address = address;
    }

    /** The guest address (virtual or physical, as the message says) the failure is about, when there is one. */
    public OptionalLong address() {
        return address;
    }

    public static VmiException unmapped(long virtualAddress) {
        return new VmiException(String.format("guest virtual address %#x is not mapped", virtualAddress), virtualAddress);
    }

    public static VmiException notRam(long physicalAddress, long virtualAddress) {
        return new VmiException(String.format("guest virtual address %#x maps to %#x, which is not guest RAM",
                virtualAddress, physicalAddress), virtualAddress);
    }
}
