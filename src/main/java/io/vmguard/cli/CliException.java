package io.vmguard.cli;

/** A failure the CLI reports as one line and a non-zero exit status. */
public final class CliException extends Exception {
    public CliException(String message) {
        super(message);
    }
}
