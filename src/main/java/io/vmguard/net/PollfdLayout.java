package io.vmguard.net;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/** struct pollfd (poll.h): a descriptor, the events to wait for, and the events poll(2) found. */
final class PollfdLayout {
    static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"),
            JAVA_SHORT.withName("events"),
            JAVA_SHORT.withName("revents")).withName("pollfd");

    private static final long FD = LAYOUT.byteOffset(groupElement("fd"));
    private static final long EVENTS = LAYOUT.byteOffset(groupElement("events"));
    private static final long REVENTS = LAYOUT.byteOffset(groupElement("revents"));

    private PollfdLayout() {}

    /** An array of pollfd waiting for {@code events} on each of {@code fds}. */
    static MemorySegment allocate(Arena arena, short events, int... fds) {
        MemorySegment set = arena.allocate(LAYOUT, fds.length);
        for (int i = 0; i < fds.length; i++) {
            MemorySegment entry = set.asSlice(i * LAYOUT.byteSize(), LAYOUT);
            entry.set(JAVA_INT, FD, fds[i]);
            entry.set(JAVA_SHORT, EVENTS, events);
        }
        return set;
    }

    static short revents(MemorySegment set, int index) {
        return set.get(JAVA_SHORT, index * LAYOUT.byteSize() + REVENTS);
    }
}
