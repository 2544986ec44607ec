package io.vmguard.net;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.time.Duration;

/** struct timeval (sys/time.h, x86-64): seconds and microseconds, as SO_SNDTIMEO takes a send's time limit. */
final class TimevalLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_LONG.withName("tv_sec"),
            JAVA_LONG.withName("tv_usec")).withName("timeval");

    private static final long SECONDS = LAYOUT.byteOffset(groupElement("tv_sec"));
    private static final long MICROS = LAYOUT.byteOffset(groupElement("tv_usec"));

    private TimevalLayout() {}

    /**
     * A timeval of {@code duration}, rounded up to a whole microsecond and to at least one: for SO_SNDTIMEO a
     * zero would mean "wait for ever".
     */
    static MemorySegment allocate(Arena arena, Duration duration) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("negative time " + duration);
        }
        long micros = Math.max(1, (duration.toNanos() + 999) / 1000);
        MemorySegment timeval = arena.allocate(LAYOUT);
        timeval.set(JAVA_LONG, SECONDS, micros / 1_000_000);
        timeval.set(JAVA_LONG, MICROS, micros % 1_000_000);
        return timeval;
    }
}
