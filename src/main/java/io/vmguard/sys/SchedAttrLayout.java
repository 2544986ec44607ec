package io.vmguard.sys;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * struct sched_attr (include/uapi/linux/sched/types.h, SCHED_ATTR_SIZE_VER1: 56 bytes): the argument of
 * sched_setattr(2) and sched_getattr(2). vmguard sets the policy and the nice value of one thread with it;
 * the deadline and utilisation-clamp fields stay zero (no SCHED_FLAG asks for them).
 */
public final class SchedAttrLayout {
    public static final StructLayout LAYOUT = MemoryLayout.structLayout(
            JAVA_INT.withName("size"),
            JAVA_INT.withName("sched_policy"),
            JAVA_LONG.withName("sched_flags"),
            JAVA_INT.withName("sched_nice"),
            JAVA_INT.withName("sched_priority"),
            JAVA_LONG.withName("sched_runtime"),
            JAVA_LONG.withName("sched_deadline"),
            JAVA_LONG.withName("sched_period"),
            JAVA_INT.withName("sched_util_min"),
            JAVA_INT.withName("sched_util_max")).withName("sched_attr");

    private static final long SIZE = LAYOUT.byteOffset(groupElement("size"));
    private static final long POLICY = LAYOUT.byteOffset(groupElement("sched_policy"));
    private static final long NICE = LAYOUT.byteOffset(groupElement("sched_nice"));

    private SchedAttrLayout() {}

    /** A sched_attr asking for {@code policy} (SCHED_OTHER, SCHED_BATCH or SCHED_IDLE) at {@code nice}. */
    static MemorySegment of(Arena arena, int policy, int nice) {
        MemorySegment attr = arena.allocate(LAYOUT);
        attr.set(JAVA_INT, SIZE, (int) LAYOUT.byteSize());
        attr.set(JAVA_INT, POLICY, policy);
        attr.set(JAVA_INT, NICE, nice);
        return attr;
    }

    static int policy(MemorySegment attr) {
        return attr.get(JAVA_INT, POLICY);
    }

    static int nice(MemorySegment attr) {
        return attr.get(JAVA_INT, NICE);
    }
}
