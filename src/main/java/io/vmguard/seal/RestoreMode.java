package io.vmguard.seal;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * How a sealed snapshot's memory comes back: {@link #LAZY} (the default: the VM runs at once, chunks are
 * decrypted on first touch and in the background, see {@link PostCopyRestore}) or {@link #UP_FRONT} (every
 * chunk decrypted before the VM runs). {@code VMGUARD_SEAL_RESTORE=lazy|up-front} chooses; where lazy
 * cannot work (no userfaultfd, secret memory) a restore falls back to up front and says so once.
 */
public enum RestoreMode {
    LAZY, UP_FRONT;

    private static final String VARIABLE = "VMGUARD_SEAL_RESTORE";
    public static final String PROPERTY = "vmguard.seal.restore";
    private static final AtomicBoolean TOLD = new AtomicBoolean();

    /** The mode the system property {@code vmguard.seal.restore} (tests) or {@code VMGUARD_SEAL_RESTORE} names; {@link #LAZY} when unset. */
    public static RestoreMode configured() {
        String property = System.getProperty(PROPERTY);
        return parse(property != null ? property : System.getenv(VARIABLE));
    }

    static RestoreMode parse(String value) {
        if (value == null || value.isEmpty()) {
            return LAZY;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "lazy" -> LAZY;
            case "up-front" -> UP_FRONT;
            default -> throw new IllegalArgumentException(VARIABLE + " must be lazy or up-front, not '" + value + "'");
        };
    }

    /** Says once, in one line on stderr, that a lazy restore was asked for and why it decrypts up front instead. */
    static void fellBack(String why) {
        if (TOLD.compareAndSet(false, true)) {
            System.err.println("vmguard: sealed snapshot memory is decrypted up front: " + why);
        }
    }
}
