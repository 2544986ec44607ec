package io.vmguard.sched;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What a vmguard thread does, as the host scheduler should see it, read from the thread's name (its
 * {@code comm}, the first 15 bytes of the Java name). Names, not object references, so that threads a
 * device starts later (an I/O thread per device) are found without the device knowing about scheduling:
 * <ul>
 *   <li>{@link #VCPU}: {@code vcpu0}, {@code vcpu1}, ... (the run loops);</li>
 *   <li>{@link #IO}: names ending in {@code -rx}, {@code -tx} or {@code -io} with an optional number
 *       ({@code net-rx0}, {@code net-tx0}, {@code e1000-0-rx}), or starting with {@code io-} ({@code io-blk0}):
 *       a device's receive or I/O thread, whoever must run for a frame or a request to reach the guest;</li>
 *   <li>{@link #OTHER}: the rest (the API, the watchdog, the JVM's compiler and GC threads).</li>
 * </ul>
 */
public enum ThreadRole {
    VCPU, IO, OTHER;

    private static final Pattern VCPU_NAME = Pattern.compile("vcpu[0-9]+");
    private static final Pattern IO_NAME = Pattern.compile("io-.*|.*-(rx|tx|io)[0-9]*");

    public static ThreadRole of(String threadName) {
        if (VCPU_NAME.matcher(threadName).matches()) {
            return VCPU;
        }
        return IO_NAME.matcher(threadName).matches() ? IO : OTHER;
    }

    /** The role's word on the command line and in reports: vcpu, io, other. */
    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The role named {@code word}, or null. */
    public static ThreadRole fromWord(String word) {
        for (ThreadRole role : values()) {
            if (role.word().equals(word)) {
                return role;
            }
        }
        return null;
    }
}
