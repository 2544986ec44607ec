package io.vmguard.sys;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The host kernel's random number generator (/dev/urandom), opened once per process when first asked for and
 * shared by every user: what vmguard hands a guest as entropy (virtio-rng, the boot loader's RNG seed), as
 * QEMU's backends read getrandom or /dev/urandom. Not {@code SecureRandom}, whose NativePRNG mixes the same
 * bytes with a SHA1PRNG it builds and seeds on first use: 20-62 ms on a loaded host
 * (docs/benchmarks.md#session12-boot2). A stream, not a {@code FileChannel}: a channel closes for every thread
 * when one thread reading it is interrupted.
 */
public final class HostUrandom {
    private HostUrandom() {}

    /** The shared stream; reads from several threads are safe (each is one read of the file). */
    public static InputStream stream() {
        return Holder.STREAM;
    }

    private static final class Holder {
        static final InputStream STREAM = open();

        private static InputStream open() {
            try {
                return new FileInputStream("/dev/urandom");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open the host's /dev/urandom", e);
            }
        }
    }
}
