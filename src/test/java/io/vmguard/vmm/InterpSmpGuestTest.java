package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.virtio.block.DiskConfig;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Linux with several vCPUs under the interpreter: the BSP boots, the application processors come up through
 * INIT, start-up IPIs and Linux's real-mode trampoline, and then threads on different vCPUs (host threads)
 * share memory. guest/programs/smp-stress checks atomics, a spinlock, a lock-free ring, a seqlock, futex
 * hand-offs and fork under load; cpu-tests is the interpreter's instruction suite; the devices and snapshots
 * must work with every vCPU running.
 */
@Timeout(value = 20, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpSmpGuestTest {
    private static final int JIT_THRESHOLD = 20;

    @TempDir
    Path dir;

    private static VmConfig guest(String script, int vcpus, ConsoleLines console, String extra) {
        return new VmConfig(BuiltGuest.bzImage(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script + " " + extra, 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console)).withVcpus(vcpus);
    }

    private static String run(VmConfig config, ConsoleLines console) throws Exception {
        return run(config, console, false);
    }

    /**
     * With {@code jit}, the interpreter's JIT compiles blocks after {@link #JIT_THRESHOLD} executions (far below
     * its default, so that most of the kernel and the test programs run compiled); without, the interpreter alone.
     */
    private static String run(VmConfig config, ConsoleLines console, boolean jit) throws Exception {
        JitOptions options = jit ? new JitOptions(true, JIT_THRESHOLD, JitOptions.DEFAULT_BUDGET) : JitOptions.off();
        try (Vm vm = Vm.create(config, new InterpEngine(options))) {
            assertEquals(new RunOutcome.PoweredOff(0), vm.run(), console.text());
        }
        return console.text();
    }

    @ParameterizedTest(name = "{0} vCPUs, JIT {1}")
    @CsvSource({"1, false", "2, false", "4, false", "1, true", "4, true"})
    void threadsSharingMemoryComeOutRightWithEveryVcpuOnline(int vcpus, boolean jit) throws Exception {
        ConsoleLines console = new ConsoleLines();
        String text = run(guest("smp-stress", vcpus, console, "vmguard.threads=4 vmguard.rounds=5000"), console, jit);
        assertTrue(text.contains("smp-stress: " + vcpus + " CPUs online"), text); // the guest's own count
        if (vcpus > 1) {
            assertTrue(text.contains("smp: Brought up 1 node, " + vcpus + " CPUs"), text);
        }
        assertTrue(text.contains("smp-stress: 6 passed, 0 failed"), text);
        for (String part : new String[] {"atomics", "spinlock", "ring", "seqlock", "futex", "fork"}) {
            assertTrue(text.contains("smp-stress: PASS " + part), part + ": " + text);
        }
        assertFalse(text.contains("WARNING:") || text.contains("BUG:") || text.contains("Oops"), text);
    }

    @ParameterizedTest(name = "{0} vCPUs, JIT {1}")
    @CsvSource({"2, false", "4, false", "2, true"})
    void theInstructionSuitePassesWithSeveralVcpus(int vcpus, boolean jit) throws Exception {
        ConsoleLines console = new ConsoleLines();
        String text = run(guest("cpu-tests", vcpus, console, ""), console, jit);
        Matcher summary = Pattern.compile("cpu-tests: (\\d+) passed, (\\d+) failed").matcher(text);
        assertTrue(summary.find(), text);
        assertEquals("0", summary.group(2), text);
        assertTrue(Integer.parseInt(summary.group(1)) > 0, text);
    }

    @Test
    void twoVmsWithTwoVcpusEachMoveAFileOverTheNetworkIntact() throws Exception {
        FileTransferBetweenVms.Consoles consoles = FileTransferBetweenVms.run(dir, (script, log, extra) ->
                new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                        RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script + " " + extra, 256L << 20, "interp",
                        new SerialTarget.File(log)).withVcpus(2));
        assertTrue(consoles.client().contains("3 packets transmitted, 3 packets received"), consoles.client());
    }

    @Test
    void aGuestWithTwoVcpusIsSnapshottedAndRestoredWithBothRunning() throws Exception {
        Path disk = dir.resolve("disk.img");
        try (var file = new java.io.RandomAccessFile(disk.toFile(), "rw")) {
            file.setLength(64L << 20);
        }
        Path state = dir.resolve("vm.snap");
        Path memory = dir.resolve("vm.mem");
        Pattern count = Pattern.compile("COUNT (\\d+)");
        ConsoleLines original = new ConsoleLines();
        long last;
        VmConfig config = guest("counter", 2, original, "vmguard.count=100000")
                .withDisks(List.of(new DiskConfig(disk, false)));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            vm.start();
            original.await(Pattern.compile("COUNT 20"), 0, Duration.ofMinutes(3));
            vm.pause();
            last = original.lastNumber(count);
            vm.snapshot(state, memory);
        }
        assertTrue(original.text().contains("smp: Brought up 1 node, 2 CPUs"), original.text());

        ConsoleLines restored = new ConsoleLines();
        Path copy = Files.copy(disk, dir.resolve("restored.img"));
        RestoreOptions options = new RestoreOptions(new SerialTarget.Streams(InputStream.nullInputStream(), restored),
                Optional.empty(), Map.of(), Map.of(0, copy));
        try (Vm vm = Vm.restore(state, memory, new InterpEngine(), options, VmEvents.none())) {
            assertEquals(2, vm.config().vcpus());
            vm.resume();
            Matcher first = restored.await(count, 0, Duration.ofMinutes(1));
            long resumedAt = Long.parseLong(first.group(1));
            assertTrue(resumedAt == last + 1 || resumedAt == last + 2, "counted on from " + resumedAt + " after " + last);
            Matcher check = restored.await(Pattern.compile("CHECK (\\d+) disk=(\\w+) net=(\\w+)"), 0, Duration.ofMinutes(2));
            assertEquals("ok", check.group(2), restored.text());
            restored.await(Pattern.compile("COUNT " + (resumedAt + 20)), 0, Duration.ofMinutes(1));
            vm.stop("test over");
        }
    }
}
