package io.vmguard.sched;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What each thread of a process did over an interval: the difference of two {@link SchedStatReader}
 * readings, per thread (threads present at both ends) and summed per {@link ThreadRole}.
 */
public record SchedSample(long pid, Duration interval, List<ThreadSchedStat> threads, Map<ThreadRole, ThreadSchedStat> byRole) {

    /** Reads {@code pid}'s threads, sleeps {@code interval}, reads again. */
    public static SchedSample over(long pid, Duration interval) throws IOException, InterruptedException {
        List<ThreadSchedStat> before = SchedStatReader.read(pid);
        long start = System.nanoTime();
        Thread.sleep(interval);
        List<ThreadSchedStat> after = SchedStatReader.read(pid);
        return between(pid, Duration.ofNanos(System.nanoTime() - start), before, after);
    }

    /** The sample from two readings of the same process. */
    public static SchedSample between(long pid, Duration interval, List<ThreadSchedStat> before, List<ThreadSchedStat> after) {
        Map<Integer, ThreadSchedStat> earlier = new HashMap<>();
        before.forEach(stat -> earlier.put(stat.thread().tid(), stat));
        List<ThreadSchedStat> deltas = new ArrayList<>();
        Map<ThreadRole, ThreadSchedStat> byRole = new EnumMap<>(ThreadRole.class);
        for (ThreadSchedStat now : after) {
            ThreadSchedStat then = earlier.get(now.thread().tid());
            if (then == null || !then.thread().name().equals(now.thread().name())) {
                continue; // born (or renamed) during the interval: no start to measure from
            }
            ThreadSchedStat delta = now.minus(then);
            deltas.add(delta);
            ThreadRole role = now.thread().role();
            HostThread group = new HostThread(0, role.word(), role);
            byRole.merge(role, delta, (a, b) -> a.plus(b, group));
        }
        byRole.replaceAll((role, sum) -> new ThreadSchedStat(new HostThread(0, role.word(), role), sum.runNanos(),
                sum.waitNanos(), sum.timeslices(), sum.voluntarySwitches(), sum.nonvoluntarySwitches()));
        return new SchedSample(pid, interval, List.copyOf(deltas), Map.copyOf(byRole));
    }
}
