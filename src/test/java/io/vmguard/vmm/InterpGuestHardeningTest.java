package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.GuestLog;
import io.vmguard.events.SecurityEvent;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.RecordingEventSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a root guest program does to a VMM, and what the VMM must take: MMIO of every width and alignment
 * answered with the device's bytes (once an instruction that needed two device reads froze the vCPU), and
 * a flood of distinct invalid instructions that leaves the VMM's log bounded.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpGuestHardeningTest {
    private static final Pattern UD_FLOOD = Pattern.compile("ud-flood: (\\d+) invalid encodings executed, (\\d+) SIGILL");

    @TempDir
    Path dir;

    private final List<String> logLines = new CopyOnWriteArrayList<>();
    private final RecordingEventSink sink = new RecordingEventSink();
    private final List<SecurityEvent> events = sink.events;
    private final GuestLog log = new GuestLog(logLines::add, sink.forVm("test"), System::nanoTime);
    private final GuestLog previous = GuestLog.current();

    @AfterEach
    void restoreLog() {
        GuestLog.install(previous);
    }

    /** Runs guest script {@code script}; returns the console text after checking the script passed. */
    private String runScript(String script) throws Exception {
        GuestLog.install(log);
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script, 256L << 20, "interp", new SerialTarget.File(console));
        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VMGUARD-RESULT name=" + script + " status=0"), text);
        return text;
    }

    @Test
    void aGuestProgramGetsTheDevicesBytesForEveryMmioWidthAlignmentAndPageCrossing() throws Exception {
        String text = runScript("mmio-widths");
        for (String check : List.of("loads-across-the-end-of-a-page", "unaligned-loads-inside-a-page", "sixteen-byte-sse-loads",
                "memcpy-across-a-page", "split-writes-reach-the-register-they-cover")) {
            assertTrue(text.contains("PASS " + check), check + "\n" + text);
        }
    }

    @Test
    void thousandsOfDistinctInvalidInstructionsLeaveTheLogBoundedAndCounted() throws Exception {
        String text = runScript("ud-flood");
        Matcher matcher = UD_FLOOD.matcher(text);
        assertTrue(matcher.find(), text);
        long executed = Long.parseLong(matcher.group(1));
        assertTrue(executed >= 2000, "the guest executed " + executed);
        assertEquals(executed, Long.parseLong(matcher.group(2)), "each one raised SIGILL in the guest");

        long udLines = logLines.stream().filter(line -> line.contains("#UD")).count();
        assertTrue(udLines <= 10, udLines + " #UD lines printed:\n" + String.join("\n", logLines));
        assertTrue(log.printed() + log.suppressed() >= executed, "every #UD is printed or counted: printed "
                + log.printed() + ", suppressed " + log.suppressed() + ", executed " + executed);
        assertTrue(log.keys() <= 2 && events.size() <= 2, "one key, one event: " + log.keys() + " keys, " + events);
    }
}
