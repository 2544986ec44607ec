package io.vmguard.arch.x86;

/** A kernel, initrd or command line that cannot be booted; the message says why in one line. */
public final class KernelLoadException extends Exception {
    public KernelLoadException(String message) {
        super(message);
    }
}
