package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.api.ApiContext;
import io.vmguard.api.ApiEndpoints;
import io.vmguard.api.ApiServer;
import io.vmguard.api.Instance;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.EventHub;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.InitramfsOverlay;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmm.IntrospectionSettings;
import io.vmguard.vmm.RunOutcome;
import io.vmguard.vmm.SerialTarget;
import io.vmguard.vmm.Vm;
import io.vmguard.vmm.VmConfig;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vmguard vmi ...} against a booted guest through the control API: the clean guest checks out, its
 * processes and registers are listed, memory is read and dumped; system calls are traced by name and
 * process; then the guest hides a process from its task list, and {@code vmi ps} and {@code vmi check}
 * show it.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class VmiCliGuestTest {
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts/vmi-attack");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** Runs {@code vmguard args...} in this process; returns its exit status, its stdout in {@link #out}. */
    private int vmguard(String... args) {
        PrintStream saved = System.out;
        out.reset();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            return Main.execute(args);
        } finally {
            System.setOut(saved);
        }
    }

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void vmiCommandsSeeTheGuestAndTheHiddenProcess() throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/vmi-attack", Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd, io.vmguard.cli.RunCommand.DEFAULT_COMMAND_LINE
                + " vmguard.run=vmi-attack vmguard.attack=hide-pid", 256L << 20, "interp",
                new SerialTarget.Streams(InputStream.nullInputStream(), console));
        RecordingEventSink recorded = new RecordingEventSink();
        EventHub hub = new EventHub(recorded);
        VmEvents events = new VmEvents("cli-vmi", hub);
        Path socket = dir.resolve("api.sock");
        String sock = socket.toString();
        try (Vm vm = Vm.create(config, new InterpEngine(), events)) {
            vm.start();
            vm.attachIntrospection(IntrospectionSettings.monitoring(Duration.ofSeconds(1), IntegrityMonitor.Action.ALERT,
                    IntegrityMonitor.BaselinePoint.INIT));
            Instance instance = Instance.serving(new Instance.Launch("cli-vmi", "interp", new SerialTarget.Null(), events), vm);
            try (ApiServer server = ApiServer.start(ApiEndpoints.unix(socket), new ApiContext(instance, hub, events))) {
                Matcher rest = console.await(Pattern.compile("VMI-REST"), 0, Duration.ofMinutes(2));
                assertEquals(0, vmguard("vmi", "syscalls", "--api-sock", sock, "--number", "59", "--process", "vmi-attack"));
                assertTrue(stdout().contains("tracing system calls [59] of vmi-attack"), stdout());
                assertEquals(0, vmguard("vmi", "ps", "--api-sock", sock));
                assertTrue(stdout().lines().anyMatch(l -> l.matches("\\s+1\\s+0\\s+0\\s+init")), stdout());
                assertTrue(stdout().lines().anyMatch(l -> l.matches("\\s+2\\s+0\\s+0\\s+\\[kthreadd]")), stdout());
                assertEquals(0, vmguard("vmi", "check", "--api-sock", sock));
                assertEquals("ok: the kernel matches its baseline\n", stdout());
                assertEquals(0, vmguard("vmi", "regs", "--api-sock", sock, "--json"));
                assertTrue(stdout().contains("\"LSTAR\":\"0xffffffff"), stdout());
                assertEquals(0, vmguard("vmi", "read", "--api-sock", sock, "--size", "32", "f0000"));
                assertEquals(2, stdout().lines().count(), stdout());
                Path dump = dir.resolve("guest.core");
                assertEquals(0, vmguard("vmi", "dump", "--api-sock", sock, dump.toString()));
                byte[] head = Files.readAllBytes(dump);
                assertEquals(0x7f, head[0]);
                assertEquals("ELF", new String(head, 1, 3, StandardCharsets.US_ASCII));
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dump)));

                Matcher hidden = console.await(Pattern.compile("VMI-HIDDEN-PID (\\d+)"), rest.end(), Duration.ofMinutes(1));
                console.await(Pattern.compile("VMI-ATTACKED .*"), rest.end(), Duration.ofMinutes(1));
                String pid = hidden.group(1);
                assertEquals(0, vmguard("vmi", "ps", "--api-sock", sock));
                assertTrue(stdout().lines().anyMatch(l -> l.trim().startsWith(pid + " ") && l.endsWith("(hidden from the task list)")),
                        stdout());
                assertEquals(1, vmguard("vmi", "check", "--api-sock", sock));
                assertTrue(stdout().contains("hidden-process: PID " + pid + " is in the PID table but missing from the task list"),
                        stdout());
            }
            assertEquals(new RunOutcome.PoweredOff(0), vm.awaitOutcome(), console.text());
        } finally {
            hub.close();
        }
        assertTrue(recorded.events.stream().anyMatch(e -> e.source() == Source.VMI && e.kind().equals("memory-dump")));
        assertTrue(recorded.events.stream().anyMatch(e -> e.source() == Source.VMI && e.kind().equals("memory-read")));
        SecurityEvent exec = recorded.events.stream().filter(e -> e.kind().equals("syscall")).findFirst()
                .orElseThrow(() -> new AssertionError("no syscall event"));
        assertEquals("execve", exec.details().get("name"));
        assertEquals("vmi-attack", exec.details().get("process"));
        assertTrue(recorded.events.stream().filter(e -> e.kind().equals("syscall"))
                .allMatch(e -> e.details().get("process").equals("vmi-attack") && e.details().get("number").equals(59L)));
    }
}
