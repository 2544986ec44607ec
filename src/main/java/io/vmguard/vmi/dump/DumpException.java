package io.vmguard.vmi.dump;

/** A dump that could not be written; the message is one line for the user (what, where, why). */
public final class DumpException extends Exception {
    public DumpException(String message) {
        super(message);
    }
}
