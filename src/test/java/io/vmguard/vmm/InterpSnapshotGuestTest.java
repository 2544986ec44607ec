package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.VmEvents;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetSpec;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.FramePeer;
import io.vmguard.testing.PingResponder;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.virtio.block.DiskConfig;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pause, snapshot and restore as a booted Linux guest sees them, under the interpreter. The guest script
 * {@code counter} prints "COUNT n" every 100 ms and, every tenth count, checks a file it wrote to its disk
 * and pings a peer on its network card ("CHECK n disk=ok net=ok").
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpSnapshotGuestTest {
    private static final Pattern COUNT = Pattern.compile("COUNT (\\d+)");
    private static final Duration BOOT = Duration.ofMinutes(3);
    private static final MacAddress PEER_MAC = MacAddress.parse("02:00:00:00:00:01");

    @TempDir
    Path dir;

    private VmConfig counter(ConsoleLines console, String extra) {
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=counter vmguard.count=100000 " + extra, 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
    }

    @Test
    void aPausedGuestStopsCountingAndCostsNoCpuThenCountsOnWhenResumed() throws Exception {
        ConsoleLines console = new ConsoleLines();
        RecordingEventSink events = new RecordingEventSink();
        try (Vm vm = Vm.create(counter(console, ""), new InterpEngine(), new VmEvents("pause-test", events))) {
            vm.start();
            console.await(Pattern.compile("COUNT 20"), 0, BOOT);
            vm.pause();
            assertEquals(VmState.PAUSED, vm.state());
            long last = console.lastNumber(COUNT);
            int printed = console.length();
            long cpuBefore = processCpuNanos();
            Thread.sleep(2000);
            long cpuWhilePaused = processCpuNanos() - cpuBefore;
            assertEquals(printed, console.length(), "a paused guest prints nothing");
            assertTrue(cpuWhilePaused < 200_000_000L, "2 s paused cost " + cpuWhilePaused / 1_000_000 + " ms of CPU");

            vm.resume();
            console.await(Pattern.compile("COUNT " + (last + 5)), printed, Duration.ofMinutes(1));
            assertEquals(List.of("vm-started", "vm-paused", "vm-resumed"),
                    events.events.stream().map(e -> e.kind()).toList());
        }
    }

    @Test
    void aRestoredGuestCountsOnFromItsSnapshotWithItsDiskAndNetworkAndTwoClonesRunSideBySide() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (var file = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            file.setLength(64L << 20);
        }
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        ConsoleLines original = new ConsoleLines();
        long last;
        try (FramePeer peer = FramePeer.socket(dir.resolve("peer0.sock"), dir.resolve("vm0.sock"), pingable());
             Vm vm = Vm.create(counter(original, "vmguard.ip=10.0.2.2 vmguard.peer=10.0.2.1")
                     .withDisks(List.of(new DiskConfig(disk, false)))
                     .withNets(List.of(NetSpec.parse("socket:" + dir.resolve("vm0.sock") + "," + dir.resolve("peer0.sock")
                             + ",mac=02:00:00:00:00:10"))), new InterpEngine())) {
            vm.start();
            Matcher check = original.await(Pattern.compile("CHECK (\\d+) disk=(\\w+) net=(\\w+)"), 0, BOOT);
            assertEquals("ok ok", check.group(2) + " " + check.group(3), original.text());
            original.await(Pattern.compile("COUNT 25"), 0, Duration.ofMinutes(1));
            vm.pause();
            last = original.lastNumber(COUNT);
            vm.snapshot(state, memory);
        } // the original VM is gone: what follows runs from the two files and the disk alone

        List<Clone> clones = new ArrayList<>();
        try {
            for (int i = 1; i <= 2; i++) {
                clones.add(Clone.restore(dir, i, state, memory));
            }
            for (Clone clone : clones) {
                clone.vm.resume();
            }
            for (Clone clone : clones) {
                String tag = "clone " + clone.index + ": ";
                Matcher first = clone.console.await(COUNT, 0, Duration.ofMinutes(1));
                long resumedAt = Long.parseLong(first.group(1));
                // The count the snapshot interrupted may be half printed: the next full line is last+1 or last+2.
                assertTrue(resumedAt == last + 1 || resumedAt == last + 2,
                        tag + "counted on from " + resumedAt + " after a snapshot at " + last + ":\n" + clone.console.text());
                Matcher check = clone.console.await(Pattern.compile("CHECK (\\d+) disk=(\\w+) net=(\\w+)"), 0,
                        Duration.ofMinutes(2));
                assertEquals("ok ok", check.group(2) + " " + check.group(3), tag + clone.console.text());
                assertFalse(clone.console.text().contains("VMGUARD-GUEST-READY"), tag + "the guest did not boot again");
                assertTrue(clone.peer.awaitFrame(Duration.ofSeconds(30)) != null, tag + "the clone's own peer heard from it");
            }
        } finally {
            for (Clone clone : clones) {
                clone.close();
            }
        }
    }

    /** One VM restored from the snapshot, with its own socket pair, MAC and console. */
    private record Clone(int index, Vm vm, FramePeer peer, ConsoleLines console) implements AutoCloseable {
        static Clone restore(Path dir, int index, Path state, Path memory) throws Exception {
            Path own = dir.resolve("clone" + index + ".sock");
            Path peerPath = dir.resolve("clone" + index + "-peer.sock");
            FramePeer peer = FramePeer.socket(peerPath, own, pingable());
            ConsoleLines console = new ConsoleLines();
            // A disk is opened by one VM at a time: each clone gets its own copy of the snapshot's disk.
            Path disk = Files.copy(dir.resolve("disk.img"), dir.resolve("clone" + index + ".img"));
            RestoreOptions options = new RestoreOptions(new SerialTarget.Streams(InputStream.nullInputStream(), console),
                    Optional.empty(), Map.of(0, NetSpec.parse("socket:" + own + "," + peerPath + ",mac=02:00:00:00:00:1" + index)),
                    Map.of(0, disk));
            try {
                return new Clone(index, Vm.restore(state, memory, new InterpEngine(), options, VmEvents.none()), peer, console);
            } catch (VmException e) {
                peer.close();
                throw e;
            }
        }

        @Override
        public void close() throws Exception {
            vm.stop("test over");
            vm.close();
            peer.close();
        }
    }

    private static PingResponder pingable() throws Exception {
        return new PingResponder(PEER_MAC, (Inet4Address) InetAddress.getByName("10.0.2.1"));
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
