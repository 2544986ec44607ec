package io.vmguard.interference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.sched.SchedSample;
import io.vmguard.sched.SchedStatReader;
import io.vmguard.sched.ThreadRole;
import io.vmguard.sched.ThreadSchedStat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Samples the threads of several processes (the VMs of a scenario, by name) from a start until a stop file
 * appears: a reading at the start, one every {@link #PERIOD} (so a process that ends early keeps its last
 * one), the difference written as JSON: per process, per role and per thread, milliseconds run and waited on
 * a run queue, time slices, voluntary and involuntary switches.
 */
public final class SchedSampler {
    static final Duration PERIOD = Duration.ofMillis(500);
    private static final ObjectMapper JSON = new ObjectMapper();

    private SchedSampler() {}

    /** Samples {@code pids} (name to pid) until {@code stopFile} exists or {@code limit} passed; writes {@code out}. */
    public static void run(Map<String, Long> pids, Path stopFile, Duration limit, Path out) throws IOException, InterruptedException {
        Map<String, List<ThreadSchedStat>> first = new LinkedHashMap<>();
        // Each thread's latest reading: a thread that ends before the stop (a vCPU of a guest that powered off
        // at its last marker) keeps the figures it had.
        Map<String, Map<Integer, ThreadSchedStat>> last = new LinkedHashMap<>();
        for (Map.Entry<String, Long> entry : pids.entrySet()) {
            List<ThreadSchedStat> reading = readOrNull(entry.getValue());
            if (reading != null) {
                first.put(entry.getKey(), reading);
                last.put(entry.getKey(), new LinkedHashMap<>());
                remember(last.get(entry.getKey()), reading);
            }
        }
        long start = System.nanoTime();
        Map<String, Long> lastAt = new LinkedHashMap<>();
        first.keySet().forEach(name -> lastAt.put(name, start));
        long deadline = start + limit.toNanos();
        while (!Files.exists(stopFile) && System.nanoTime() < deadline) {
            Thread.sleep(PERIOD);
            for (String name : first.keySet()) {
                List<ThreadSchedStat> reading = readOrNull(pids.get(name));
                if (reading != null) {
                    remember(last.get(name), reading);
                    lastAt.put(name, System.nanoTime());
                }
            }
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("seconds", Math.round((System.nanoTime() - start) / 1e6) / 1e3);
        ObjectNode processes = root.putObject("processes");
        for (String name : first.keySet()) {
            SchedSample sample = SchedSample.between(pids.get(name), Duration.ofNanos(lastAt.get(name) - start), first.get(name),
                    List.copyOf(last.get(name).values()));
            processes.set(name, toJson(sample));
        }
        Files.writeString(out, root.toPrettyString() + "\n");
    }

    private static void remember(Map<Integer, ThreadSchedStat> latest, List<ThreadSchedStat> reading) {
        reading.forEach(stat -> latest.put(stat.thread().tid(), stat));
    }

    private static List<ThreadSchedStat> readOrNull(long pid) throws IOException {
        if (!Files.isDirectory(Path.of("/proc", Long.toString(pid)))) {
            return null;
        }
        try {
            return SchedStatReader.read(pid);
        } catch (java.nio.file.NoSuchFileException e) {
            return null; // ended between the look and the read
        }
    }

    static ObjectNode toJson(SchedSample sample) {
        ObjectNode node = JSON.createObjectNode();
        double seconds = sample.interval().toNanos() / 1e9;
        node.put("pid", sample.pid());
        node.put("seconds", Math.round(seconds * 1000) / 1000.0);
        ObjectNode roles = node.putObject("by_role");
        for (ThreadRole role : ThreadRole.values()) {
            ThreadSchedStat stat = sample.byRole().get(role);
            if (stat != null) {
                roles.set(role.word(), figures(stat, seconds));
            }
        }
        ArrayNode threads = node.putArray("threads");
        for (ThreadSchedStat stat : sample.threads()) {
            if (stat.runNanos() == 0 && stat.waitNanos() == 0) {
                continue; // a thread that slept throughout says nothing
            }
            ObjectNode entry = figures(stat, seconds);
            entry.put("name", stat.thread().name());
            entry.put("role", stat.thread().role().word());
            threads.add(entry);
        }
        return node;
    }

    private static ObjectNode figures(ThreadSchedStat stat, double seconds) {
        ObjectNode entry = JSON.createObjectNode();
        entry.put("run_ms", Math.round(stat.runNanos() / 1e4) / 100.0);
        entry.put("wait_ms", Math.round(stat.waitNanos() / 1e4) / 100.0);
        entry.put("timeslices", stat.timeslices());
        entry.put("voluntary_switches", stat.voluntarySwitches());
        entry.put("nonvoluntary_switches", stat.nonvoluntarySwitches());
        entry.put("wait_per_slice_us", Math.round(stat.waitPerSliceNanos() / 10.0) / 100.0);
        entry.put("cpu_share", seconds > 0 ? Math.round(stat.runNanos() / 1e9 / seconds * 1000) / 1000.0 : 0);
        return entry;
    }
}
