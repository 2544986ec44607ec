package io.vmguard.seal;

import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * How a sealed snapshot's memory comes back: {@link #LAZY} (the VM runs at once, chunks are decrypted on first
 * touch and in the background, see {@link PostCopyRestore}) or {@link #UP_FRONT} (every chunk decrypted before
 * the VM runs). Unless {@code VMGUARD_SEAL_RESTORE=lazy|up-front} forces one, each restore chooses by how much
 * of its file is present ({@link #forPresentBytes}); where lazy cannot work (no userfaultfd, secret memory) a
 * restore decrypts up front, and says so once when lazy was asked for.
 */
public enum RestoreMode {
    LAZY, UP_FRONT;

    private static final String VARIABLE = "VMGUARD_SEAL_RESTORE";
    public static final String PROPERTY = "vmguard.seal.restore";
    private static final AtomicBoolean TOLD = new AtomicBoolean();

    /**
     * Present (encrypted, non-hole) bytes per decrypting thread below which an up-front restore is chosen. A lazy
     * restore's guest first waits for the helper's JVM (its first page: 0.44-0.51 s and 0.71 s in bench-seal,
     * docs/benchmarks.md #seal-phases and 2026-12-05 07:31 UTC), then pays a round trip to the helper per chunk it
     * touches; an up-front one decrypts at 165-375 MiB/s per thread on this loaded 2-core host (256 MiB in
     * 0.34-0.78 s on 2 threads, same runs). At the low ends, 0.44 s x 180 MiB/s: about 80 MiB per thread
     * decrypts before the helper would have served its first page. A real guest (bench-snapshot --seal, 32 and
     * 60 MiB present) reached its next line sooner up front even with a helper on standby.
     */
    static final long UP_FRONT_BELOW_PER_THREAD = 80L << 20;

    /** The mode the system property {@code vmguard.seal.restore} (tests) or {@code VMGUARD_SEAL_RESTORE} forces; empty when unset or {@code auto}. */
    public static Optional<RestoreMode> forced() {
        String property = System.getProperty(PROPERTY);
        return parse(property != null ? property : System.getenv(VARIABLE));
    }

    static Optional<RestoreMode> parse(String value) {
        if (value == null || value.isEmpty()) {
            return Optional.empty();
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "auto" -> Optional.empty();
            case "lazy" -> Optional.of(LAZY);
            case "up-front" -> Optional.of(UP_FRONT);
            default -> throw new IllegalArgumentException(VARIABLE + " must be auto, lazy or up-front, not '" + value + "'");
        };
    }

    /** The present bytes at which {@link #forPresentBytes} turns to {@link #LAZY} with {@code threads} decrypting threads. */
    static long lazyFrom(int threads) {
        return UP_FRONT_BELOW_PER_THREAD * Math.max(1, threads);
    }

    /** The quicker mode for a file with {@code presentBytes} bytes of chunks, decrypted up front on {@code threads} threads. */
    static RestoreMode forPresentBytes(long presentBytes, int threads) {
        return presentBytes < lazyFrom(threads) ? UP_FRONT : LAZY;
    }

    /** Says once, in one line on stderr, that a lazy restore was asked for and why it decrypts up front instead. */
    static void fellBack(String why) {
        if (TOLD.compareAndSet(false, true)) {
            System.err.println("vmguard: sealed snapshot memory is decrypted up front: " + why);
        }
    }
}
