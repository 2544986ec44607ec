package io.vmguard.engine.kvm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * glibc's struct sigaction on x86-64 (what the sigaction() wrapper takes, not the kernel's k_sigaction):
 * the handler (a union of sa_handler and sa_sigaction), a 1024-bit sigset_t mask, the flags, and the
 * restorer that glibc fills in itself.
 */
final class SigactionLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("sa_handler"),
            MemoryLayout.sequenceLayout(128, JAVA_BYTE).withName("sa_mask"),
            JAVA_INT.withName("sa_flags"),
            MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("sa_restorer")).withName("sigaction");

    private static final long HANDLER = LAYOUT.byteOffset(groupElement("sa_handler"));
    private static final long FLAGS = LAYOUT.byteOffset(groupElement("sa_flags"));

    private SigactionLayout() {}

    /** An action running {@code handler} with an empty mask (sigemptyset is all zero bits) and {@code flags}. */
    static void write(MemorySegment action, long handler, int flags) {
        action.fill((byte) 0);
        action.set(JAVA_LONG, HANDLER, handler);
        action.set(JAVA_INT, FLAGS, flags);
    }

    static long handler(MemorySegment action) {
        return action.get(JAVA_LONG, HANDLER);
    }
}
