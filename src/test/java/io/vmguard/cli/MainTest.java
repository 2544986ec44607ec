package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.vmm.RunOutcome;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's contract for bad input: one line on stderr, a non-zero status, no stack trace. */
class MainTest {
    @TempDir
    Path dir;
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedErr;

    @BeforeEach
    void captureStderr() {
        savedErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreStderr() {
        System.setErr(savedErr);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private void assertOneLineError(String expectedFragment) {
        String text = stderr();
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.startsWith("vmguard: "), text);
        assertTrue(text.contains(expectedFragment), text);
        assertFalse(text.contains("Exception"), text);
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertEquals(Main.EXIT_USAGE, Main.execute("run", "--frobnicate"));
        assertOneLineError("Unknown option: '--frobnicate'");
    }

    @Test
    void missingCommandIsAUsageError() {
        assertEquals(Main.EXIT_USAGE, Main.execute());
        assertOneLineError("missing command");
    }

    @Test
    void missingKernelFileIsOneLine() {
        Path absent = dir.resolve("vmlinux");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", absent.toString()));
        assertOneLineError("kernel " + absent + " not found");
    }

    @Test
    void unparsableMemorySizeIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--memory", "plenty"));
        assertOneLineError("cannot parse size 'plenty'");
    }

    @Test
    void aVcpuCountOutsideOneToSixtyFourIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--cpus", "65"));
        assertOneLineError("--cpus takes 1 to 64, not 65");
    }

    @Test
    void aJitSwitchOtherThanOnOrOffIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--jit", "maybe"));
        assertOneLineError("--jit takes on or off, not 'maybe'");
    }

    @Test
    void guestMemoryBeyondWhatTheHostCanBackIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not a kernel at all");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--memory", "1T"));
        assertOneLineError("guest memory of 1 TiB is more than this host can back");
    }

    @Test
    void anUnknownMemoryBackendIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--memory-backend", "hugepages"));
        assertOneLineError("--memory-backend must be anonymous or secret");
    }

    @Test
    void aTpmStateDirectoryThatCannotBeMadeIsOneLine() throws Exception {
        Path kernel = io.vmguard.testing.TinyKernel.write(dir, "vmlinux", io.vmguard.testing.TinyKernel.spin());
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--tpm", "/proc/no-such/tpm"));
        assertOneLineError("TPM state directory /proc/no-such/tpm");
    }

    @Test
    void unknownEngineIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--engine", "bochs"));
        assertOneLineError("unknown engine 'bochs'");
    }

    @Test
    void aMissingAntivirusDatabaseIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        Path absent = dir.resolve("no-such-db");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--av-db", absent.toString()));
        assertOneLineError("cannot load the antivirus database");
    }

    @Test
    void anAntivirusDatabaseWithNoUsableSignatureIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        Path empty = Files.createDirectories(dir.resolve("empty-db"));
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--av-db", empty.toString()));
        assertOneLineError("the antivirus database has no usable signatures");
    }

    @Test
    void anUnknownAntivirusActionIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("k"), "x");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString(), "--av-action", "quarantine"));
        assertOneLineError("--av-action must be alert, block or pause, not 'quarantine'");
    }

    @Test
    void aCorruptKernelIsOneLine() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not a kernel at all");
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString()));
        assertOneLineError("kernel " + kernel + " is neither an ELF vmlinux nor a bzImage");
    }

    @Test
    void aTruncatedKernelIsOneLine() throws Exception {
        byte[] elfHeaderOnly = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
        Path kernel = Files.write(dir.resolve("vmlinux"), elfHeaderOnly);
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", kernel.toString()));
        assertOneLineError("is truncated");
    }

    @Test
    void theGuestScriptNamedLastOnTheCommandLineIsTheOneThatCounts() {
        assertEquals("hello", RunCommand.guestScript("console=ttyS0 vmguard.run=hello"));
        assertEquals("b", RunCommand.guestScript("vmguard.run=a quiet vmguard.run=b"));
        assertEquals(null, RunCommand.guestScript("console=ttyS0 xvmguard.run=a"));
    }

    @Test
    void aResetBeforeTheGuestScriptReportedIsAFailure() {
        assertEquals(5, RunCommand.report(new RunOutcome.PoweredOff(5), "hello"));
        assertEquals(0, RunCommand.report(new RunOutcome.Reset("reboot"), null));
        assertEquals(1, RunCommand.report(new RunOutcome.Reset("panic"), "hello"));
        assertEquals(1, RunCommand.report(new RunOutcome.Failed("engine error"), null));
    }

    @Test
    void aCommandLineNamingACommandBuildsThatCommandAlone() {
        assertEquals(java.util.List.of(RunCommand.class), Main.commandsFor("run", "--kernel", "vmlinux"));
        assertEquals(java.util.List.of(VmiCommands.class), Main.commandsFor("vmi", "ps"));
    }

    @Test
    void helpStillListsEveryCommand() {
        PrintStream savedOut = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.execute("--help"));
        } finally {
            System.setOut(savedOut);
        }
        String help = out.toString(StandardCharsets.UTF_8);
        for (String command : java.util.List.of("run", "serve", "status", "pause", "resume", "snapshot", "restore", "events",
                "vmi", "scan", "sched-sample", "interference-report")) {
            assertTrue(help.lines().anyMatch(line -> line.strip().startsWith(command + " ")), command + " missing from:\n" + help);
        }
    }

    @Test
    void anUnknownCommandIsStillAUsageError() {
        assertEquals(Main.EXIT_USAGE, Main.execute("frobnicate"));
        assertOneLineError("Unmatched argument at index 0: 'frobnicate'");
    }
}
