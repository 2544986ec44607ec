package io.vmguard.sched;

import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * This process's threads as the host scheduler saw them since each started, for the API's metrics: per thread
 * and per role, nanoseconds run and waited on a run queue, time slices, voluntary and involuntary switches.
 * A client takes the difference of two readings for an interval. Reading costs a few /proc files per thread.
 */
public final class HostThreadMetrics {
    private HostThreadMetrics() {}

    public static Map<String, Object> now() {
        Map<String, Object> out = new LinkedHashMap<>();
        List<ThreadSchedStat> stats;
        try {
            stats = SchedStatReader.read(ProcessHandle.current().pid());
        } catch (IOException e) {
            out.put("error", e.getMessage());
            return out;
        }
        Map<ThreadRole, ThreadSchedStat> byRole = new EnumMap<>(ThreadRole.class);
        List<Map<String, Object>> threads = new ArrayList<>();
        for (ThreadSchedStat stat : stats) {
            ThreadRole role = stat.thread().role();
            byRole.merge(role, stat, (a, b) -> a.plus(b, new HostThread(0, role.word(), role)));
            if (role != ThreadRole.OTHER) {
                Map<String, Object> entry = figures(stat);
                entry.put("tid", stat.thread().tid());
                entry.put("name", stat.thread().name());
                threads.add(entry);
            }
        }
        Map<String, Object> roles = new LinkedHashMap<>();
        byRole.forEach((role, sum) -> roles.put(role.word(), figures(sum)));
        out.put("by_role", roles);
        out.put("threads", threads);
        return out;
    }

    private static Map<String, Object> figures(ThreadSchedStat stat) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("role", stat.thread().role().word());
        entry.put("run_ns", stat.runNanos());
        entry.put("wait_ns", stat.waitNanos());
        entry.put("timeslices", stat.timeslices());
        entry.put("voluntary_switches", stat.voluntarySwitches());
        entry.put("nonvoluntary_switches", stat.nonvoluntarySwitches());
        return entry;
    }
}
