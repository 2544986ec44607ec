package io.vmguard.sys;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SequenceLayout;
import java.util.BitSet;

/**
 * cpu_set_t (sched.h): glibc's fixed mask of {@link #CPUS} bits, one per CPU, in 64-bit words (bit n of
 * word n / 64 is CPU n). The argument of sched_setaffinity(2) and sched_getaffinity(2).
 */
public final class CpuSetLayout {
    /** CPU_SETSIZE: CPUs a cpu_set_t can name. */
    public static final int CPUS = 1024;
    public static final SequenceLayout LAYOUT = MemoryLayout.sequenceLayout(CPUS / 64, JAVA_LONG).withName("cpu_set_t");

    private CpuSetLayout() {}

    static MemorySegment of(Arena arena, BitSet cpus) {
        if (cpus.length() > CPUS) {
            throw new IllegalArgumentException("CPU " + (cpus.length() - 1) + " is past cpu_set_t's " + CPUS);
        }
        MemorySegment set = arena.allocate(LAYOUT);
        long[] words = cpus.toLongArray();
        for (int i = 0; i < words.length; i++) {
            set.setAtIndex(JAVA_LONG, i, words[i]);
        }
        return set;
    }

    static BitSet toBitSet(MemorySegment set) {
        return BitSet.valueOf(set.toArray(JAVA_LONG));
    }
}
