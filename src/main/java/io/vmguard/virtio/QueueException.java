package io.vmguard.virtio;

/**
 * The driver broke the virtqueue contract (a loop in a descriptor chain, an index out of range, a ring
 * outside memory). The device cannot trust the queue any more: the transport sets DEVICE_NEEDS_RESET.
 */
public final class QueueException extends Exception {
    public QueueException(String message) {
        super(message, null, false, false);
    }

    public QueueException(String message, Throwable cause) {
        super(message, cause, false, false);
    }
}
