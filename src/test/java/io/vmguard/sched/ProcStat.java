package io.vmguard.sched;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a thread's figures back as the kernel shows them in /proc, independently of the code under test. */
final class ProcStat {
    private ProcStat() {}

    /** Field {@code number} (1-based, as in proc(5)) of /proc/self/task/TID/stat. */
    static String statField(int tid, int number) throws IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        // The name (field 2) may hold spaces; fields after it start past its closing parenthesis.
        String[] rest = stat.substring(stat.lastIndexOf(')') + 2).strip().split(" ");
        return rest[number - 3];
    }

    static int nice(int tid) throws IOException {
        return Integer.parseInt(statField(tid, 19));
    }

    static int policy(int tid) throws IOException {
        return Integer.parseInt(statField(tid, 41));
    }

    static String cpusAllowed(int tid) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/task/" + tid + "/status")).stream()
                .filter(line -> line.startsWith("Cpus_allowed_list:")).findFirst().orElseThrow()
                .substring("Cpus_allowed_list:".length()).strip();
    }
}
