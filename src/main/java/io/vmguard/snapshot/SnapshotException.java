package io.vmguard.snapshot;

/** A snapshot that cannot be taken or restored; the message is one line naming what is wrong. */
public final class SnapshotException extends Exception {
    public SnapshotException(String message) {
        super(message);
    }

    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
