package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/** The built guest image, booted by the interpreter: real Linux, real busybox, a verdict through the exit port. */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpLinuxBootTest {
    @TempDir
    Path dir;

    private RunOutcome boot(String script, Path console) throws Exception {
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script, 256L << 20, "interp",
                new SerialTarget.File(console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            return vm.run();
        }
    }

    @Test
    void theGuestBootsToItsReadyMarkerAndRunsAScript() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = boot("hello", console);
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VMGUARD-GUEST-READY"), text);
        assertTrue(text.contains("hello from vmguard guest"), text);
        assertTrue(text.contains("VMGUARD-RESULT name=hello status=0"), text);
    }

    /**
     * The guest test suite (guest/programs/test-*.c): integer and flag semantics, division, shifts, SSE,
     * x87, string ops, fork/exec/wait, signals, threads and futexes, mmap and page faults, time; all
     * inside Linux, under the interpreter.
     */
    @Test
    void theGuestTestSuitePassesInsideLinux() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = boot("cpu-tests", console);
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.lines().anyMatch(line -> line.matches("cpu-tests: [1-9][0-9]* passed, 0 failed")), text);
        assertTrue(text.lines().noneMatch(line -> line.startsWith("FAIL")), text);
    }

    @Test
    void aFailingScriptsStatusBecomesTheRunsStatus() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = boot("fail", console);
        assertEquals(new RunOutcome.PoweredOff(3), outcome, Files.readString(console));
    }
}
