package io.vmguard.sched;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads {@link ThreadSchedStat} for every thread of a process from /proc. */
public final class SchedStatReader {
    private SchedStatReader() {}

    /** Every live thread of {@code pid}; threads that end while being read are left out. */
    public static List<ThreadSchedStat> read(long pid) throws IOException {
        List<ThreadSchedStat> out = new ArrayList<>();
        for (HostThread thread : ProcTasks.list(pid)) {
            ThreadSchedStat stat = read(pid, thread);
            if (stat != null) {
                out.add(stat);
            }
        }
        return out;
    }

    /** One thread's counters, or null if it has gone. */
    public static ThreadSchedStat read(long pid, HostThread thread) throws IOException {
        Path task = ProcTasks.taskDir(pid).resolve(Integer.toString(thread.tid()));
        String schedstat = ProcTasks.readSmall(task.resolve("schedstat"));
        String status = ProcTasks.readSmall(task.resolve("status"));
        if (schedstat == null || status == null) {
            return null;
        }
        String[] fields = schedstat.strip().split(" ");
        if (fields.length < 3) {
            throw new IOException(task.resolve("schedstat") + " has " + fields.length + " fields, not 3");
        }
        return new ThreadSchedStat(thread, number(fields[0], "schedstat"), number(fields[1], "schedstat"),
                number(fields[2], "schedstat"), statusField(status, "voluntary_ctxt_switches"),
                statusField(status, "nonvoluntary_ctxt_switches"));
    }

    /** A "Name:\tvalue" line of a status file, as a number. */
    static long statusField(String status, String name) throws IOException {
        for (String line : status.split("\n")) {
            if (line.startsWith(name + ":")) {
                return number(line.substring(name.length() + 1).strip(), name);
            }
        }
        throw new IOException("no " + name + " in a /proc status file");
    }

    private static long number(String text, String what) throws IOException {
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IOException(what + " holds '" + text + "', not a number");
        }
    }
}
