package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.InitramfsOverlay;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The integrity monitor on a booted Linux guest (our kernel from its bzImage, KASLR on, found with no
 * profile): a clean boot with a busy workload raises no alarm and our process list is the guest's own;
 * each attack the guest makes on its kernel as root (vgattack.ko, through guest/initramfs/scripts/vmi-attack)
 * is reported with what changed; trapped ones before the guest's next instruction, periodic ones within a
 * period.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpVmiMonitorGuestTest {
    private static final String SCRIPT = "vmi-attack";
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts", SCRIPT);
    private static final Duration PERIOD = Duration.ofSeconds(1);
    /** A pass under the interpreter takes milliseconds; the slack covers a loaded CI machine. */
    private static final Duration SLACK = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private record Run(String console, List<SecurityEvent> events, Map<String, Instant> seen, Vm vm) {
        List<SecurityEvent> alarms() {
            return events.stream().filter(e -> e.source() == Source.VMI && e.severity() == Severity.ALARM).toList();
        }

        List<SecurityEvent> alarms(String kind) {
            return alarms().stream().filter(e -> e.kind().equals(kind)).toList();
        }
    }

    /** Boots the guest to vmi-attack with {@code attack}, the monitor on; returns when the guest has powered off. */
    private Run run(String attack, IntegrityMonitor.Action action, java.util.function.Consumer<Vm> whilePaused)
            throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.attack=" + attack, 256L << 20,
                "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        RecordingEventSink sink = new RecordingEventSink();
        Map<String, Instant> seen = new java.util.concurrent.ConcurrentHashMap<>();
        try (Vm vm = Vm.create(config, new InterpEngine(), sink.forVm("vmi-test"))) {
            vm.start();
            vm.attachIntrospection(IntrospectionSettings.monitoring(PERIOD, action, IntegrityMonitor.BaselinePoint.INIT));
            int from = 0;
            Matcher clean = console.await(Pattern.compile("VMI-CLEAN-DONE .*"), from, Duration.ofMinutes(2));
            seen.put("clean", Instant.now());
            seen.putIfAbsent("ps", Instant.now());
            if (!attack.equals("none")) {
                console.await(Pattern.compile("VMI-ATTACK .*"), clean.end(), Duration.ofMinutes(1));
                seen.put("attack", Instant.now());
                if (action == IntegrityMonitor.Action.PAUSE) {
                    awaitPaused(vm);
                    whilePaused.accept(vm);
                    vm.resume();
                }
                console.await(Pattern.compile(".*vgattack: .*"), clean.end(), Duration.ofMinutes(1));
                seen.put("attacked", Instant.now());
            }
            RunOutcome outcome = vm.awaitOutcome();
            assertEquals(new RunOutcome.PoweredOff(0), outcome, console.text());
            return new Run(console.text(), List.copyOf(sink.events), seen, vm);
        }
    }

    private static void awaitPaused(Vm vm) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (vm.state() != VmState.PAUSED) {
            assertTrue(System.nanoTime() < deadline, "the VM was not paused for the alarm");
            Thread.sleep(10);
        }
    }

    private static String describe(List<SecurityEvent> events) {
        return events.stream().map(e -> e.kind() + " " + e.severity() + " " + e.details()).collect(Collectors.joining("\n"));
    }

    @Test
    void aCleanBootWithABusyWorkloadRaisesNoAlarmAndTheMonitorKeepsChecking() throws Exception {
        Run run = run("none", IntegrityMonitor.Action.ALERT, vm -> {});

        assertTrue(run.events().stream().anyMatch(e -> e.source() == Source.VMI && e.kind().equals("baseline")),
                describe(run.events()));
        assertEquals(List.of(), run.alarms(), describe(run.events()));
        assertTrue(run.events().stream().noneMatch(e -> e.kind().equals("monitor-error")), describe(run.events()));
    }

    @Test
    void ourProcessListIsTheGuestsOwn() throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(BuiltGuest.bzImage(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.attack=none vmguard.busy=2",
                256L << 20, "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            vm.start();
            Introspection vmi = vm.attachIntrospection(IntrospectionSettings.defaults());
            // The script prints its view, works, then rests (VMI-REST) before printing its view again.
            Matcher rest = console.await(Pattern.compile("VMI-REST"), 0, Duration.ofMinutes(2));
            List<Introspection.ProcessInfo> ours = vmi.processes();
            console.await(Pattern.compile("VMI-PS-END"), rest.end(), Duration.ofMinutes(1));
            assertEquals(new RunOutcome.PoweredOff(0), vm.awaitOutcome(), console.text());

            String text = console.text();
            Set<String> before = psBlock(text, 0);
            Set<String> after = psBlock(text, rest.end());
            Map<Integer, Introspection.ProcessInfo> mine = ours.stream()
                    .collect(Collectors.toMap(Introspection.ProcessInfo::pid, p -> p));
            // What the guest saw both before and after our look was there while we looked: we must have it,
            // with the same parent. Names: task->comm is the kernel's 15-character name; /proc decorates
            // workqueue workers ("kworker/0:0-events") and shows kernel threads' full names, both starting with it.
            Set<String> stable = new HashSet<>(before);
            stable.retainAll(after);
            for (String line : stable) {
                String[] fields = line.split(" ", 3);
                Introspection.ProcessInfo process = mine.get(Integer.parseInt(fields[0]));
                assertTrue(process != null, "missing from ours: " + line + "\nours: " + ours + "\nguest:\n" + text);
                assertEquals(Integer.parseInt(fields[1]), process.ppid(), line);
                assertTrue(fields[2].startsWith(process.name()), line + " vs ours " + process.name());
            }
            // And we see nothing the guest did not, but the resting script's own child: its usleep, possibly
            // caught between fork and exec (still named after the script).
            Set<Integer> guestPids = new HashSet<>();
            for (String line : before) {
                guestPids.add(Integer.parseInt(line.split(" ", 2)[0]));
            }
            for (String line : after) {
                guestPids.add(Integer.parseInt(line.split(" ", 2)[0]));
            }
            List<Introspection.ProcessInfo> extra = ours.stream().filter(p -> !guestPids.contains(p.pid())).toList();
            int script = ours.stream().filter(p -> p.name().equals("vmi-attack") && p.ppid() == 1).findFirst()
                    .orElseThrow(() -> new AssertionError("no script process in " + ours)).pid();
            assertTrue(extra.size() <= 1 && extra.stream().allMatch(p -> p.ppid() == script
                            && List.of("usleep", "sleep", "vmi-attack").contains(p.name())),
                    "seen only by us: " + extra + "\nguest:\n" + text);
            assertTrue(ours.stream().noneMatch(Introspection.ProcessInfo::hidden));
            assertTrue(stable.size() >= 10, "a busy guest has kernel threads and workers: " + stable);
            assertTrue(ours.stream().filter(p -> p.name().equals("vmi-attack")).count() >= 3,
                    "the script and its two busy loops: " + ours);
        }
    }

    private static Set<String> psBlock(String console, int from) {
        List<String> lines = console.substring(from).lines().toList();
        int begin = lines.indexOf("VMI-PS-BEGIN");
        int end = lines.indexOf("VMI-PS-END");
        assertTrue(begin >= 0 && end > begin, console);
        return lines.subList(begin + 1, end).stream().filter(line -> line.matches("\\d+ \\d+ .+"))
                .filter(line -> !line.startsWith("0 ")).collect(Collectors.toSet());
    }

    @ParameterizedTest
    @ValueSource(strings = {"syscall-table", "x64-sys-call", "idt", "lstar", "cr0-wp"})
    void aTrappedAttackIsReportedWithWhatChangedBeforeTheGuestGoesOn(String attack) throws Exception {
        Run run = run(attack, IntegrityMonitor.Action.ALERT, vm -> {});

        List<SecurityEvent> alarms = run.alarms();
        String all = describe(run.events()) + "\n" + run.console();
        SecurityEvent trapped = alarms.stream().filter(e -> Boolean.TRUE.equals(e.details().get("trapped"))).findFirst()
                .orElseThrow(() -> new AssertionError("no trapped alarm:\n" + all));
        assertTrue(String.valueOf(trapped.details().get("rip_symbol")).startsWith("[vgattack]"),
                "the writer is the module: " + trapped.details());
        switch (attack) {
            case "syscall-table" -> {
                assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("kernel-rodata")
                        && String.valueOf(e.details().get("symbol")).startsWith("sys_call_table+")), all);
                assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("syscall-table") && e.details().get("entry").equals(110)
                        && String.valueOf(e.details().get("new_symbol")).startsWith("__x64_sys_getpid")), all);
                assertTrue(!run.alarms("cr0-wp").isEmpty(), "the module cleared CR0.WP for its write\n" + all);
            }
            case "x64-sys-call" -> {
                assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("kernel-text")
                        && String.valueOf(e.details().get("symbol")).startsWith("x64_sys_call+")), all);
                assertTrue(!run.alarms("syscall-dispatch").isEmpty(), all);
            }
            case "idt" -> {
                assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("idt") && Boolean.TRUE.equals(e.details().get("trapped"))), all);
                assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("idt") && Integer.valueOf(0).equals(e.details().get("vector"))
                        && String.valueOf(e.details().get("new_symbol")).startsWith("[vgattack]")), all);
            }
            case "lstar" -> assertTrue(alarms.stream().anyMatch(e -> e.kind().equals("msr") && "LSTAR".equals(e.details().get("msr"))
                    && String.valueOf(e.details().get("new_symbol")).startsWith("[vgattack]")), all);
            case "cr0-wp" -> assertEquals(1, run.alarms("cr0-wp").size(), "reported once, though it stays cleared\n" + all);
            default -> throw new AssertionError(attack);
        }
        assertTrue(trapped.details().containsKey("process"), "the alarm names the process: " + trapped.details());
    }

    @ParameterizedTest
    @ValueSource(strings = {"hide-module", "hide-pid"})
    void aHidingAttackIsReportedWithinOnePeriod(String attack) throws Exception {
        Run run = run(attack, IntegrityMonitor.Action.ALERT, vm -> {});

        String all = describe(run.events()) + "\n" + run.console();
        String kind = attack.equals("hide-module") ? "hidden-module" : "hidden-process";
        List<SecurityEvent> alarms = run.alarms(kind);
        assertEquals(1, alarms.size(), all);
        if (attack.equals("hide-module")) {
            assertEquals("vgattack", alarms.getFirst().details().get("module"), all);
        } else {
            Matcher hidden = Pattern.compile("VMI-HIDDEN-PID (\\d+)").matcher(run.console());
            assertTrue(hidden.find(), run.console());
            assertEquals(Integer.parseInt(hidden.group(1)), alarms.getFirst().details().get("pid"), all);
        }
        Duration late = Duration.between(run.seen().get("attacked"), alarms.getFirst().time());
        assertTrue(late.compareTo(PERIOD.plus(SLACK)) < 0, "reported " + late + " after the attack");
    }

    @Test
    void withActionPauseTheVmStopsInsideTheAttackersCode() throws Exception {
        long[] rip = new long[1];
        String[] where = new String[1];
        Run run = run("lstar", IntegrityMonitor.Action.PAUSE, vm -> {
            try {
                rip[0] = vm.inspect(view -> view.vcpus().getFirst().registers().rip());
                where[0] = vm.introspection().orElseThrow().kernel().names().nameOf(rip[0]);
            } catch (VmException e) {
                throw new AssertionError(e);
            }
        });
        assertTrue(where[0].startsWith("[vgattack]"),
                "paused at " + Long.toHexString(rip[0]) + " (" + where[0] + "), not right after the module's WRMSR\n"
                        + describe(run.events()));
        assertTrue(run.events().stream().anyMatch(e -> e.kind().equals("vm-paused-for-inspection")), describe(run.events()));
    }
}
