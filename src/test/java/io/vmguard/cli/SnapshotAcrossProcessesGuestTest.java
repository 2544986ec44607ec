package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.net.MacAddress;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.FramePeer;
import io.vmguard.testing.PingResponder;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot outlives the VMM process that took it: {@code vmguard run --api-sock} boots the counter guest
 * (disk and network), the CLI pauses it and takes a snapshot, the process is killed, and a new
 * {@code vmguard serve} process restores it through the CLI: the guest counts on from where it stopped,
 * reads back from its disk what it wrote before the snapshot, and pings its peer.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class SnapshotAcrossProcessesGuestTest {
    private static final Pattern COUNT = Pattern.compile("(?m)^COUNT (\\d+)\r?\n");
    private static final Pattern CHECK = Pattern.compile("(?m)^CHECK (\\d+) disk=(\\w+) net=(\\w+)\r?\n");

    @TempDir
    Path dir;

    @Test
    void aGuestSnapshottedByOneProcessAndKilledCountsOnInAnotherWithItsDiskAndNetwork() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (var file = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            file.setLength(64L << 20);
        }
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        Path firstLog = dir.resolve("first.log");
        long last;
        try (FramePeer peer = FramePeer.socket(dir.resolve("peer1.sock"), dir.resolve("vm1.sock"), pingable())) {
            Process first = vmguard("run", "--kernel", BuiltGuest.vmlinux().toString(), "--initrd",
                    BuiltGuest.initramfs().toString(), "--api-sock", dir.resolve("first.api").toString(),
                    "--serial", "file:" + firstLog, "--disk", disk.toString(),
                    "--net", "socket:" + dir.resolve("vm1.sock") + "," + dir.resolve("peer1.sock") + ",mac=02:00:00:00:00:10",
                    "--append", "vmguard.run=counter vmguard.count=100000 vmguard.ip=10.0.2.2 vmguard.peer=10.0.2.1");
            try {
                Matcher check = await(firstLog, CHECK, Duration.ofMinutes(3), first);
                assertEquals("ok ok", check.group(2) + " " + check.group(3), Files.readString(firstLog));
                cli("pause", "--api-sock", dir.resolve("first.api").toString());
                last = lastCount(firstLog);
                cli("snapshot", "--api-sock", dir.resolve("first.api").toString(), "--snapshot-path", state.toString(),
                        "--mem-path", memory.toString(), "--leave-paused");
            } finally {
                first.destroyForcibly().waitFor(); // SIGKILL: the snapshot must stand on its own
            }
        }

        Path secondLog = dir.resolve("second.log");
        try (FramePeer peer = FramePeer.socket(dir.resolve("peer2.sock"), dir.resolve("vm2.sock"), pingable())) {
            Process second = vmguard("serve", "--api-sock", dir.resolve("second.api").toString(), "--serial", "file:" + secondLog);
            try {
                awaitSocket(dir.resolve("second.api"), second);
                cli("restore", "--api-sock", dir.resolve("second.api").toString(), "--snapshot-path", state.toString(),
                        "--mem-path", memory.toString(), "--resume",
                        "--net", "eth0=socket:" + dir.resolve("vm2.sock") + "," + dir.resolve("peer2.sock"));
                Matcher resumed = await(secondLog, COUNT, Duration.ofMinutes(1), second);
                long at = Long.parseLong(resumed.group(1));
                assertTrue(at == last + 1 || at == last + 2, "counted on from " + at + " after a snapshot at " + last);
                Matcher check = await(secondLog, CHECK, Duration.ofMinutes(2), second);
                assertEquals("ok ok", check.group(2) + " " + check.group(3), Files.readString(secondLog));
                assertFalse(Files.readString(secondLog).contains("VMGUARD-GUEST-READY"), "the guest did not boot again");
            } finally {
                second.destroyForcibly().waitFor();
            }
        }
    }

    /** Starts the CLI in a new JVM (the test's own class path), its output in a file beside the test's. */
    private Process vmguard(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(arguments));
        Path output = dir.resolve(arguments[0] + ".out");
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    }

    /** Runs a client command in this JVM; it must succeed. */
    private static void cli(String... arguments) {
        assertEquals(0, Main.execute(arguments), "vmguard " + String.join(" ", arguments));
    }

    private Matcher await(Path log, Pattern line, Duration timeout, Process vmm) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
            Matcher matcher = line.matcher(text);
            if (matcher.find()) {
                return matcher;
            }
            assertTrue(vmm.isAlive(), "the VMM exited " + (vmm.isAlive() ? "" : vmm.exitValue()) + ": " + outputs() + text);
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + line + "' in " + log + " within " + timeout + ":\n" + Files.readString(log));
    }

    private void awaitSocket(Path socket, Process vmm) throws Exception {
        for (int i = 0; i < 600 && !Files.exists(socket); i++) {
            assertTrue(vmm.isAlive(), "vmguard serve exited: " + outputs());
            Thread.sleep(50);
        }
        assertTrue(Files.exists(socket), "vmguard serve made no socket: " + outputs());
    }

    private String outputs() throws Exception {
        StringBuilder all = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".out")).toList()) {
                all.append(file.getFileName()).append(": ").append(Files.readString(file)).append('\n');
            }
        }
        return all.toString();
    }

    private static long lastCount(Path log) throws Exception {
        Matcher matcher = COUNT.matcher(Files.readString(log, StandardCharsets.ISO_8859_1));
        long last = -1;
        while (matcher.find()) {
            last = Long.parseLong(matcher.group(1));
        }
        return last;
    }

    private static PingResponder pingable() throws Exception {
        return new PingResponder(MacAddress.parse("02:00:00:00:00:01"), (Inet4Address) InetAddress.getByName("10.0.2.1"));
    }
}
