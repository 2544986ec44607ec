package io.vmguard.tpm;

/** A TPM that cannot be started, reached, or that refused a command vmguard needed: one line, for the user. */
public final class TpmException extends Exception {
    public TpmException(String message) {
        super(message);
    }

    public TpmException(String message, Throwable cause) {
        super(message, cause);
    }
}
