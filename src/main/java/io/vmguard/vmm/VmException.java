package io.vmguard.vmm;

/** A VM that could not be built or started; the message is one line for the user. */
public final class VmException extends Exception {
    public VmException(String message, Throwable cause) {
        super(message, cause);
    }

    public VmException(String message) {
        super(message);
    }
}
