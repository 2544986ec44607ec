package io.vmguard.memory;

/** An access to a guest physical range that is not wholly inside guest RAM. */
public final class GuestMemoryException extends RuntimeException {
    public GuestMemoryException(String message) {
        super(message);
    }
}
