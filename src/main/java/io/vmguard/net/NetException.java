package io.vmguard.net;

/** A network backend that cannot be opened or cannot go on; the message is one line naming the cause. */
public final class NetException extends Exception {
    public NetException(String message) {
        super(message);
    }
}
