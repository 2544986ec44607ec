package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.av.Detection;
import io.vmguard.av.Scanner;
import io.vmguard.av.SignatureDatabase;
import io.vmguard.av.runtime.CodeScanner;
import io.vmguard.av.runtime.CodeSweeper;
import io.vmguard.av.runtime.RuntimeAction;
import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.GuestFiles;
import io.vmguard.testing.HostTool;
import io.vmguard.testing.InitramfsOverlay;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.virtio.block.DiskConfig;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime antivirus on a booted Linux guest under the interpreter (guest/initramfs/scripts/av-run): code
 * that carries a known signature is stopped before it runs, whether it comes from the initramfs, from a disk
 * by virtio DMA, or is unpacked in memory by the program itself, and the same guest runs it when scanning is
 * off; a signature in a kernel module's code is reported as kernel code; a clean busy guest raises nothing.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpAntivirusGuestTest {
    private static final String SCRIPT = "av-run";
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts", SCRIPT);
    /** av-marked's marked_code(): see guest/programs/av-marked.c. */
    private static final String MARKED_CODE = "48b8564d474156545354" + "48b94d41524b45443031" + "4831c8c3";
    private static final String MARKED_NAME = "VMG.Test.MarkedCode";
    /** Killed by SIGSEGV, as the shell reports it: what a refused instruction's #GP becomes in Linux. */
    private static final int KILLED_BY_SIGSEGV = 128 + 11;

    @TempDir
    Path dir;

    private record Run(String console, List<SecurityEvent> events, RunOutcome outcome, Optional<CodeScanner.Status> status) {
        List<SecurityEvent> alarms() {
            return events.stream().filter(e -> e.source() == Source.AV && e.severity() == Severity.ALARM).toList();
        }

        String describe() {
            return events.stream().map(e -> e.source() + " " + e.kind() + " " + e.details())
                    .collect(Collectors.joining("\n")) + "\n" + console;
        }
    }

    private SignatureDatabase database(String ndbLines) throws Exception {
        Path db = Files.createDirectories(dir.resolve("db"));
        Files.writeString(db.resolve("vmguard-test.ndb"), ndbLines);
        List<Object> problems = new ArrayList<>();
        SignatureDatabase database = SignatureDatabase.load(List.of(db), problems::add);
        assertEquals(List.of(), problems);
        return database;
    }

    private SignatureDatabase markedDatabase() throws Exception {
        return database(MARKED_NAME + ":0:*:" + MARKED_CODE + "\n");
    }

    /** Boots av-run with {@code avCase}; {@code whilePaused} runs each time the antivirus pauses the VM, then it resumes. */
    private Run run(String avCase, AntivirusSettings settings, List<DiskConfig> disks, Consumer<Vm> whilePaused)
            throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.av=" + avCase, 256L << 20,
                "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console)).withDisks(disks);
        RecordingEventSink sink = new RecordingEventSink();
        try (Vm vm = Vm.create(config, new InterpEngine(), sink.forVm("av-test"))) {
            Optional<Antivirus> antivirus = vm.attachAntivirus(settings);
            vm.start();
            if (settings.action() == RuntimeAction.PAUSE || settings.action() == RuntimeAction.BLOCK) {
                Thread resumer = Thread.ofPlatform().daemon().start(() -> resumeWhenPaused(vm, whilePaused));
                RunOutcome outcome = vm.awaitOutcome();
                resumer.interrupt();
                return new Run(console.text(), List.copyOf(sink.events), outcome,
                        antivirus.flatMap(Antivirus::scannerStatus));
            }
            RunOutcome outcome = vm.awaitOutcome();
            return new Run(console.text(), List.copyOf(sink.events), outcome, antivirus.flatMap(Antivirus::scannerStatus));
        }
    }

    private static void resumeWhenPaused(Vm vm, Consumer<Vm> whilePaused) {
        try {
            while (true) {
                if (vm.state() == VmState.PAUSED) {
                    whilePaused.accept(vm);
                    vm.resume();
                }
                Thread.sleep(20);
            }
        } catch (InterruptedException | VmException e) {
            // the run is over
        }
    }

    private static SecurityEvent onlyMatch(Run run) {
        List<SecurityEvent> alarms = run.alarms();
        assertEquals(1, alarms.size(), run.describe());
        SecurityEvent alarm = alarms.getFirst();
        assertEquals("signature-match", alarm.kind());
        return alarm;
    }

    @Test
    void aProgramWhoseCodeCarriesASignatureIsStoppedBeforeItPrintsAnything() throws Exception {
        Run run = run("plain", AntivirusSettings.scanning(markedDatabase(), RuntimeAction.BLOCK), List.of(), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertFalse(run.console().contains("AV-MARKED-RAN"), run.describe());
        assertTrue(run.console().contains("AV-EXIT plain rc=" + KILLED_BY_SIGSEGV), run.describe());
        SecurityEvent alarm = onlyMatch(run);
        assertEquals(MARKED_NAME + ".UNOFFICIAL", alarm.details().get("signature"));
        assertEquals("user", alarm.details().get("mode"));
        assertEquals("blocked", alarm.details().get("action"));
        assertEquals("av-marked", alarm.details().get("process"), run.describe());
        assertTrue(((Number) alarm.details().get("pid")).intValue() > 1, alarm.details().toString());
        long virtual = address(alarm, "guest_virtual");
        assertTrue(virtual >= 0x400000 && virtual < 0x800000, "in the static program's text: " + alarm.details());
        CodeScanner.Status status = run.status().orElseThrow();
        assertTrue(status.refused() >= 1 && status.scans() > 100 && status.cacheHits() > 0, status.toString());
    }

    @Test
    void withoutADatabaseTheSameProgramRuns() throws Exception {
        Run run = run("plain", AntivirusSettings.off(), List.of(), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertTrue(run.console().contains("AV-MARKED-RAN value="), run.describe());
        assertTrue(run.console().contains("AV-EXIT plain rc=0"), run.describe());
        assertTrue(run.events().stream().noneMatch(e -> e.source() == Source.AV), run.describe());
    }

    @Test
    void aPackedProgramPassesAFileScanButIsCaughtWhenItUnpacksItself() throws Exception {
        SignatureDatabase database = markedDatabase();
        Scanner files = new Scanner(database);
        Path packed = GuestFiles.program("vmguard/bin/av-packed", dir.resolve("av-packed"));
        Path plain = GuestFiles.program("vmguard/bin/av-marked", dir.resolve("av-marked"));
        assertEquals(List.of(), files.scanFile(packed, true), "the packed file hides its payload");
        List<Detection> plainFound = files.scanFile(plain, true);
        assertEquals(1, plainFound.size(), plainFound.toString());

        Run run = run("packed", AntivirusSettings.scanning(database, RuntimeAction.BLOCK), List.of(), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertTrue(run.console().contains("AV-PACKED-DECODED"), "it ran up to its payload: " + run.describe());
        assertFalse(run.console().contains("AV-PACKED-RAN"), run.describe());
        assertTrue(run.console().contains("AV-EXIT packed rc=" + KILLED_BY_SIGSEGV), run.describe());
        SecurityEvent alarm = onlyMatch(run);
        assertEquals("av-packed", alarm.details().get("process"), run.describe());
        assertEquals("user", alarm.details().get("mode"));
    }

    @Test
    void codeThatArrivesFromADiskByVirtioDmaIsCaught() throws Exception {
        Path content = Files.createDirectories(dir.resolve("disk-content"));
        Path program = GuestFiles.program("vmguard/bin/av-marked", content.resolve("av-marked"));
        Files.setPosixFilePermissions(program, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path image = dir.resolve("disk.img");
        host(HostTool.require("mkfs.ext4", "apt-get install -y e2fsprogs").toString(), "-q", "-F", "-d",
                content.toString(), image.toString(), "16M");

        Run run = run("disk", AntivirusSettings.scanning(markedDatabase(), RuntimeAction.BLOCK),
                List.of(DiskConfig.parse(image + ",readonly")), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertFalse(run.console().contains("AV-MARKED-RAN"), run.describe());
        assertTrue(run.console().contains("AV-EXIT disk rc=" + KILLED_BY_SIGSEGV), run.describe());
        assertEquals("av-marked", onlyMatch(run).details().get("process"), run.describe());
    }

    @Test
    void aSignatureInAKernelModulesCodeIsReportedAsKernelCode() throws Exception {
        String moduleCode = HexFormat.of().formatHex(io.vmguard.testing.ModuleCode.relocationFreeInitCode(
                GuestFiles.module("vmguard/modules/vgattack.ko", dir.resolve("vgattack.ko")), dir, 32));
        SignatureDatabase database = database("VMG.Test.ModuleCode:0:*:" + moduleCode + "\n");

        Run run = run("module", AntivirusSettings.scanning(database, RuntimeAction.ALERT), List.of(), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        SecurityEvent alarm = onlyMatch(run);
        assertEquals("VMG.Test.ModuleCode.UNOFFICIAL", alarm.details().get("signature"));
        assertEquals("kernel", alarm.details().get("mode"));
        assertEquals("alert", alarm.details().get("action"));
        assertTrue(alarm.details().containsKey("guest_virtual"), alarm.details().toString());
        long virtual = address(alarm, "guest_virtual");
        assertTrue(Long.compareUnsigned(virtual, 0xffff_ffff_c000_0000L) >= 0, "in the module area: " + alarm.details());
    }

    @Test
    void pauseHoldsTheCodeUntilTheVmIsResumedAndThenItRuns() throws Exception {
        List<VmState> seen = new ArrayList<>();
        Run run = run("plain", AntivirusSettings.scanning(markedDatabase(), RuntimeAction.PAUSE), List.of(),
                vm -> seen.add(vm.state()));

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertEquals(List.of(VmState.PAUSED), seen, run.describe());
        assertEquals("paused", onlyMatch(run).details().get("action"));
        assertTrue(run.console().contains("AV-MARKED-RAN value="), "after the resume it runs: " + run.describe());
    }

    @Test
    void aCleanBootWithABusyWorkloadRaisesNoAlarm() throws Exception {
        // The marked code, EICAR and ClamAV's harmless test string: none of them is in the clean guest.
        SignatureDatabase database = database(MARKED_NAME + ":0:*:" + MARKED_CODE + "\n"
                + "Eicar-Test-Signature:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d"
                + "5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n"
                + "NDB.Clamav-Unit-Test-Signature:0:*:434c414d41562d544553542d535452494e472d4e4f542d4549434152\n");

        Run run = run("busy", AntivirusSettings.scanning(database, RuntimeAction.BLOCK), List.of(), vm -> {});

        assertEquals(new RunOutcome.PoweredOff(0), run.outcome(), run.describe());
        assertTrue(run.console().contains("AV-DONE"), run.describe());
        assertEquals(List.of(), run.alarms(), run.describe());
        CodeScanner.Status status = run.status().orElseThrow();
        assertTrue(status.scans() > 500 && status.cacheHits() > 0 && status.refused() == 0, status.toString());
    }

    /** What KVM gets instead of the trap: the periodic sweep, here driven on the interpreter, finds a live process. */
    @Test
    void thePeriodicSweepFindsTheSignedCodeOfALiveProcess() throws Exception {
        SignatureDatabase database = markedDatabase();
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.av=linger", 256L << 20,
                "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        RecordingEventSink sink = new RecordingEventSink();
        try (Vm vm = Vm.create(config, new InterpEngine(), sink.forVm("av-test"));
             CodeSweeper sweeper = new CodeSweeper(new Scanner(database), new VmInspector(vm), sink.forVm("av-test"),
                     () -> {}, RuntimeAction.ALERT, Duration.ofMillis(300))) {
            vm.start();
            sweeper.start();
            assertEquals(new RunOutcome.PoweredOff(0), vm.awaitOutcome(), console.text());
            Run run = new Run(console.text(), List.copyOf(sink.events), null, Optional.empty());
            // The sweep walks every page table: the program's frame may also show up through the kernel's own
            // executable alias of freed init memory (Linux keeps the high kernel-image mapping of freed __init pages
            // without PTI, and the page allocator may hand such a frame to the program), as a kernel-mode match of
            // the same frame. That is one finding seen twice, not a second one: the user-mode match must be there.
            List<SecurityEvent> user = run.alarms().stream().filter(event -> "user".equals(event.details().get("mode"))).toList();
            assertEquals(1, user.size(), run.describe());
            SecurityEvent alarm = user.getFirst();
            for (SecurityEvent other : run.alarms()) {
                assertEquals(alarm.details().get("guest_physical"), other.details().get("guest_physical"), run.describe());
            }
            assertEquals("signature-match", alarm.kind());
            assertEquals("periodic-sweep", alarm.details().get("found_by"));
            assertEquals("user", alarm.details().get("mode"));
            assertEquals("av-marked", alarm.details().get("process"), run.describe());
            assertTrue(run.console().contains("AV-MARKED-RAN"), "a sweep finds code after it ran: " + run.describe());
            assertTrue(sweeper.status().passes() > 3 && sweeper.status().pagesSeen() > 100, sweeper.status().toString());
        }
    }

    /** A "0x..." address from an event, read as unsigned (kernel addresses have the top bit set). */
    private static long address(SecurityEvent event, String field) {
        Object value = event.details().get(field);
        assertTrue(value instanceof String text && text.startsWith("0x"), field + " in " + event.details());
        return Long.parseUnsignedLong(((String) value).substring(2), 16);
    }

    private static String host(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertEquals(0, process.waitFor(), String.join(" ", command) + ": " + output);
        return output;
    }

}
