package io.vmguard.seal;

/** A sealed file that cannot be opened (another TPM, another authorisation value, a modified byte): one line. */
public final class SealException extends Exception {
    public SealException(String message) {
        super(message);
    }

    public SealException(String message, Throwable cause) {
        super(message, cause);
    }
}
