package io.vmguard.av.match;

/** A malformed signature body or offset; the message is one line, fit to print after "file:line:". */
public final class PatternSyntaxException extends Exception {
    public PatternSyntaxException(String message) {
        super(message, null, false, false);
    }
}
