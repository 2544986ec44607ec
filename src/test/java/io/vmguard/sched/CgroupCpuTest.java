package io.vmguard.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupCpuTest {
    @Test
    void aHostWithCgroupV1OnlyIsSaidToBeSo() {
        CgroupCpu found = CgroupCpu.locate(List.of("4:cpu,cpuacct:/", "1:name=systemd:/"), List.of());
        assertEquals("this process is in no cgroup v2 hierarchy (the host uses cgroup v1 only)",
                assertInstanceOf(CgroupCpu.Unavailable.class, found).reason());
    }

    @Test
    void aV2CgroupWithoutTheCpuControllerIsSaidToBeSo(@TempDir Path mount) throws Exception {
        Path group = Files.createDirectories(mount.resolve("vm.slice"));
        Files.writeString(group.resolve("cgroup.controllers"), "memory pids\n");
        CgroupCpu found = CgroupCpu.locate(List.of("0::/vm.slice"), List.of(mountinfo(mount)));
        String reason = assertInstanceOf(CgroupCpu.Unavailable.class, found).reason();
        assertTrue(reason.startsWith("the cpu controller is not enabled for cgroup " + group), reason);
    }

    @Test
    void aDelegatedCgroupGetsItsWeightAndMaxWritten(@TempDir Path mount) throws Exception {
        Path group = Files.createDirectories(mount.resolve("user.slice/vmguard"));
        Files.writeString(group.resolve("cgroup.controllers"), "cpu memory\n");
        Files.writeString(group.resolve("cpu.weight"), "100\n");
        Files.writeString(group.resolve("cpu.max"), "max 100000\n");
        CgroupCpu.Writable found = assertInstanceOf(CgroupCpu.Writable.class,
                CgroupCpu.locate(List.of("0::/user.slice/vmguard"), List.of(mountinfo(mount))));
        found.setWeight(400);
        found.setMax(50_000, 100_000);
        assertEquals("400", found.weight());
        assertEquals("50000 100000", Files.readString(group.resolve("cpu.max")));
    }

    @Test
    void thisHostsAnswerIsOneLine() {
        CgroupCpu found = CgroupCpu.locate();
        if (found instanceof CgroupCpu.Unavailable(String reason)) {
            assertEquals(-1, reason.indexOf('\n'), reason);
        }
    }

    private static String mountinfo(Path mount) {
        return "35 24 0:30 / " + mount + " rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate";
    }
}
