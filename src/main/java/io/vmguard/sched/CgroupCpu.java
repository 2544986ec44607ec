package io.vmguard.sched;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The cgroup v2 CPU controller of the cgroup vmguard runs in, when it may write it: cpu.weight (1..10000,
 * 100 by default: a share against sibling cgroups under contention) and cpu.max (a quota per period). That
 * is so only where the host delegated a cgroup to vmguard (systemd's Delegate=yes, a container's own
 * namespace) and enabled the cpu controller for it; anywhere else {@link #locate} says why not, in one line.
 */
public sealed interface CgroupCpu {
    int WEIGHT_MIN = 1;
    int WEIGHT_MAX = 10_000;
    long PERIOD_MIN_US = 1_000;
    long PERIOD_MAX_US = 1_000_000;

    /** A cgroup whose cpu.weight and cpu.max this process may write. */
    record Writable(Path dir) implements CgroupCpu {
        public void setWeight(int weight) throws IOException {
            if (weight < WEIGHT_MIN || weight > WEIGHT_MAX) {
                throw new IllegalArgumentException("cpu.weight " + weight + " is outside " + WEIGHT_MIN + ".." + WEIGHT_MAX);
            }
            Files.writeString(dir.resolve("cpu.weight"), Integer.toString(weight));
        }

        /** cpu.max: at most {@code quotaUs} of CPU time every {@code periodUs} (both microseconds). */
        public void setMax(long quotaUs, long periodUs) throws IOException {
            if (periodUs < PERIOD_MIN_US || periodUs > PERIOD_MAX_US || quotaUs < PERIOD_MIN_US || quotaUs > 1000 * periodUs) {
                throw new IllegalArgumentException("cpu.max " + quotaUs + "/" + periodUs + " needs a period of "
                        + PERIOD_MIN_US + ".." + PERIOD_MAX_US + " us and a quota of " + PERIOD_MIN_US + " us or more");
            }
            Files.writeString(dir.resolve("cpu.max"), quotaUs + " " + periodUs);
        }

        public String weight() throws IOException {
            return Files.readString(dir.resolve("cpu.weight")).strip();
        }
    }

    /** Why vmguard cannot set CPU weights here. */
    record Unavailable(String reason) implements CgroupCpu {}

    /** The cgroup of this process, from /proc/self/cgroup and /proc/self/mountinfo. */
    static CgroupCpu locate() {
        try {
            return locate(Files.readAllLines(Path.of("/proc/self/cgroup")), Files.readAllLines(Path.of("/proc/self/mountinfo")));
        } catch (IOException e) {
            return new Unavailable("cannot read /proc/self/cgroup or mountinfo: " + e.getMessage());
        }
    }

    /** As {@link #locate()}, from the two files' lines (for tests). */
    static CgroupCpu locate(List<String> cgroupLines, List<String> mountinfoLines) {
        String path = cgroupLines.stream().filter(line -> line.startsWith("0::")).map(line -> line.substring(3))
                .findFirst().orElse(null);
        if (path == null) {
            return new Unavailable("this process is in no cgroup v2 hierarchy (the host uses cgroup v1 only)");
        }
        // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER
        String mount = null;
        String root = "/";
        for (String line : mountinfoLines) {
            int dash = line.indexOf(" - ");
            String[] fields = line.split(" ");
            if (dash > 0 && line.substring(dash + 3).startsWith("cgroup2 ") && fields.length > 4) {
                root = fields[3];
                mount = fields[4];
                break;
            }
        }
        if (mount == null) {
            return new Unavailable("no cgroup2 file system is mounted");
        }
        String relative = path.startsWith(root) ? path.substring(root.length()) : path;
        Path dir = Path.of(mount, relative.replaceFirst("^/+", ""));
        String controllers;
        try {
            controllers = Files.readString(dir.resolve("cgroup.controllers")).strip();
        } catch (IOException e) {
            return new Unavailable("cgroup " + dir + " cannot be read: " + e.getMessage());
        }
        if (!List.of(controllers.split(" ")).contains("cpu")) {
            return new Unavailable("the cpu controller is not enabled for cgroup " + dir + " (controllers: "
                    + (controllers.isEmpty() ? "none" : controllers) + "); the host keeps CPU control (cgroup v1 or not delegated)");
        }
        Path weight = dir.resolve("cpu.weight");
        if (!Files.isWritable(weight)) {
            return new Unavailable(weight + " is not writable by this process: the cgroup was not delegated to it");
        }
        return new Writable(dir);
    }
}
