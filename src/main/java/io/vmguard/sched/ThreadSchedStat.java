package io.vmguard.sched;

/**
 * One thread's scheduling counters since it started, as the kernel keeps them: nanoseconds on a CPU,
 * nanoseconds runnable but waiting on a run queue, time slices run (/proc/PID/task/TID/schedstat), and
 * switches away from the CPU it asked for (voluntary: it blocked) or did not (nonvoluntary: preempted),
 * from /proc/PID/task/TID/status.
 */
public record ThreadSchedStat(HostThread thread, long runNanos, long waitNanos, long timeslices, long voluntarySwitches,
        long nonvoluntarySwitches) {

    /** What this thread did between {@code earlier} (the same thread, read before) and this reading. */
    public ThreadSchedStat minus(ThreadSchedStat earlier) {
        return new ThreadSchedStat(thread, runNanos - earlier.runNanos, waitNanos - earlier.waitNanos,
                timeslices - earlier.timeslices, voluntarySwitches - earlier.voluntarySwitches,
                nonvoluntarySwitches - earlier.nonvoluntarySwitches);
    }

    /** The counters of two threads (or groups) added up, under {@code as}. */
    public ThreadSchedStat plus(ThreadSchedStat other, HostThread as) {
        return new ThreadSchedStat(as, runNanos + other.runNanos, waitNanos + other.waitNanos, timeslices + other.timeslices,
                voluntarySwitches + other.voluntarySwitches, nonvoluntarySwitches + other.nonvoluntarySwitches);
    }

    /** Mean run-queue wait per time slice, nanoseconds (0 without slices): how long a wake-up waited for a CPU. */
    public long waitPerSliceNanos() {
        return timeslices <= 0 ? 0 : waitNanos / timeslices;
    }
}
