package io.vmguard.memory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * How much memory this host can still give a guest: the kernel's MemAvailable plus free swap, capped by
 * the room left in vmguard's memory cgroup (v2 {@code memory.max}, or v1 {@code memory.limit_in_bytes}).
 *
 * <p>Guest RAM is mapped lazily (MAP_NORESERVE), so asking for more than the host has succeeds at first
 * and fails much later, as an OOM kill or a guest that stalls while touching its memory. vmguard refuses
 * such a VM before anything starts instead.
 */
public record HostMemory(long available, String basis) {
    private static final long V1_UNLIMITED = 1L << 62; // v1 reports "no limit" as a huge page-rounded value

    /** Reads the live host's figures. */
    public static HostMemory probe() {
        return probe(Path.of("/"));
    }

    /** Reads {@code proc/meminfo}, {@code proc/self/cgroup} and {@code sys/fs/cgroup} under {@code root}. */
    static HostMemory probe(Path root) {
        OptionalLong memAvailable = meminfo(root, "MemAvailable:");
        if (memAvailable.isEmpty()) {
            return new HostMemory(Long.MAX_VALUE, "unknown (no MemAvailable in /proc/meminfo)");
        }
        long hostRoom = memAvailable.getAsLong() + meminfo(root, "SwapFree:").orElse(0);
        OptionalLong cgroupRoom = cgroupRoom(root);
        if (cgroupRoom.isPresent() && cgroupRoom.getAsLong() < hostRoom) {
            return new HostMemory(cgroupRoom.getAsLong(), "room left in this process's memory cgroup");
        }
        return new HostMemory(hostRoom, "MemAvailable + free swap");
    }

    /** {@code bytes} as a person reads it: "768 MiB", "1.5 GiB". */
    public static String describe(long bytes) {
        String[] units = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return value == Math.rint(value) ? String.format("%.0f %s", value, units[unit]) : String.format("%.1f %s", value, units[unit]);
    }

    /** Whether {@code bytes} of guest RAM fit. */
    public boolean fits(long bytes) {
        return bytes <= available;
    }

    private static OptionalLong meminfo(Path root, String field) {
        for (String line : lines(root.resolve("proc/meminfo"))) {
            if (line.startsWith(field)) {
                String[] words = line.substring(field.length()).trim().split("\\s+");
                try {
                    return OptionalLong.of(Long.parseLong(words[0]) * 1024); // "kB"
                } catch (NumberFormatException e) {
                    return OptionalLong.empty();
                }
            }
        }
        return OptionalLong.empty();
    }

    /** Limit minus usage of the memory cgroup, if one limits this process. */
    private static OptionalLong cgroupRoom(Path root) {
        Path cgroups = root.resolve("sys/fs/cgroup");
        for (String line : lines(root.resolve("proc/self/cgroup"))) {
            String[] parts = line.split(":", 3);
            if (parts.length < 3) {
                continue;
            }
            String path = parts[2].startsWith("/") ? parts[2].substring(1) : parts[2];
            if (parts[0].equals("0") && parts[1].isEmpty()) { // v2: one unified hierarchy
                OptionalLong room = room(directory(cgroups, path, "memory.max"), "memory.max", "memory.current");
                if (room.isPresent()) {
                    return room;
                }
            } else if (List.of(parts[1].split(",")).contains("memory")) {
                return room(directory(cgroups.resolve("memory"), path, "memory.limit_in_bytes"),
                        "memory.limit_in_bytes", "memory.usage_in_bytes");
            }
        }
        return OptionalLong.empty();
    }

    /** The cgroup's own directory; in a container that shows only its own subtree, the mount's root. */
    private static Path directory(Path mount, String path, String probe) {
        Path own = mount.resolve(path);
        return Files.exists(own.resolve(probe)) ? own : mount;
    }

    private static OptionalLong room(Path directory, String limitFile, String usageFile) {
        OptionalLong limit = number(directory.resolve(limitFile));
        OptionalLong usage = number(directory.resolve(usageFile));
        if (limit.isEmpty() || limit.getAsLong() >= V1_UNLIMITED) {
            return OptionalLong.empty();
        }
        return OptionalLong.of(Math.max(0, limit.getAsLong() - usage.orElse(0)));
    }

    /** A file holding one number; empty for "max", a missing file or anything else. */
    private static OptionalLong number(Path file) {
        List<String> lines = lines(file);
        if (lines.isEmpty()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(lines.get(0).trim()));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | SecurityException e) {
            return List.of();
        }
    }
}
