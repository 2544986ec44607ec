package io.vmguard.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostMemoryTest {
    @TempDir
    Path root;

    private void file(String path, String text) throws IOException {
        Path file = root.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    private void meminfo(long availableKb, long swapFreeKb) throws IOException {
        file("proc/meminfo", "MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   " + availableKb
                + " kB\nSwapTotal:       0 kB\nSwapFree:        " + swapFreeKb + " kB\n");
    }

    @Test
    void availableMemoryPlusFreeSwapIsWhatAGuestMayHave() throws IOException {
        meminfo(2 * 1024 * 1024, 1024 * 1024);
        HostMemory host = HostMemory.probe(root);
        assertEquals(3L << 30, host.available());
        assertTrue(host.fits(3L << 30));
        assertFalse(host.fits((3L << 30) + 1));
    }

    @Test
    void aCgroupV2LimitBelowTheHostsRoomWins() throws IOException {
        meminfo(20 * 1024 * 1024, 0);
        file("proc/self/cgroup", "0::/vms/a\n");
        file("sys/fs/cgroup/vms/a/memory.max", "1073741824\n");
        file("sys/fs/cgroup/vms/a/memory.current", "268435456\n");
        assertEquals(768L << 20, HostMemory.probe(root).available());
    }

    @Test
    void aCgroupV1LimitIsReadAndItsUnlimitedValueIgnored() throws IOException {
        meminfo(4 * 1024 * 1024, 0);
        file("proc/self/cgroup", "4:memory:/box\n0::/\n");
        file("sys/fs/cgroup/memory/box/memory.limit_in_bytes", "2147483648\n");
        file("sys/fs/cgroup/memory/box/memory.usage_in_bytes", "1073741824\n");
        assertEquals(1L << 30, HostMemory.probe(root).available());
        file("sys/fs/cgroup/memory/box/memory.limit_in_bytes", "9223372036854771712\n");
        assertEquals(4L << 30, HostMemory.probe(root).available());
    }

    @Test
    void sizesAreDescribedInBinaryUnits() {
        assertEquals("1 TiB", HostMemory.describe(1L << 40));
        assertEquals("1.5 GiB", HostMemory.describe(3L << 29));
        assertEquals("256 MiB", HostMemory.describe(256L << 20));
    }
}
