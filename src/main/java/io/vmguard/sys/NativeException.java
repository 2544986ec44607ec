package io.vmguard.sys;

/** A failed system call: what was attempted and the errno it returned. */
public final class NativeException extends Exception {
    private final int errno;

    private NativeException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    static NativeException of(String what, int errno) {
        return new NativeException(what + ": " + Libc.strerror(errno), errno);
    }

    public int errno() {
        return errno;
    }
}
