package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.DistroKernel;
import io.vmguard.testing.ConsoleLines;
import io.vmguard.testing.InitramfsOverlay;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.regex.Pattern;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest side of introspection: the {@code vmi-attack} script's clean run (attack=none) on the two
 * kernels the monitor is tested against, both booted as bzImage so that KASLR moves them: the kernel the
 * recipe builds, and Debian's own 6.12 kernel with the same initramfs.
 */
class InterpVmiGuestTest {
    private static final String SCRIPT = "vmi-attack";
    /** The guest script as the repository has it: overlaid on the image, so the test needs no image rebuild. */
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts", SCRIPT);
    /** CONFIG_PHYSICAL_ALIGN (x86-64 default): the decompressor only moves the kernel by multiples of it. */
    private static final long KASLR_ALIGN = 2L << 20;

    @TempDir
    Path dir;

    /** What the guest printed, and what introspection saw while the guest rested. */
    private record Seen(String console, List<Introspection.ProcessInfo> processes, Map<String, Object> kernel) {}

    /**
     * Boots {@code kernel} with the image's initramfs to {@code vmi-attack} with attack=none; while the script
     * rests, reads the guest's processes and kernel facts from outside (no profile, no System.map).
     */
    private Seen cleanRun(Path kernel, long memoryBytes) throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        ConsoleLines console = new ConsoleLines();
        VmConfig config = new VmConfig(kernel, initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.attack=none vmguard.busy=1", memoryBytes,
                "interp", new SerialTarget.Streams(InputStream.nullInputStream(), console));
        long start = System.nanoTime();
        RunOutcome outcome;
        List<Introspection.ProcessInfo> processes;
        Map<String, Object> facts;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            vm.start();
            Introspection introspection = vm.attachIntrospection(IntrospectionSettings.defaults());
            console.await(Pattern.compile("VMI-REST"), 0, Duration.ofMinutes(15));
            long found = System.nanoTime();
            processes = introspection.processes();
            facts = introspection.kernelSummary();
            System.out.printf("introspection of %s: kernel found and processes read in %.2f s%n", kernel,
                    (System.nanoTime() - found) / 1e9);
            outcome = vm.awaitOutcome();
        }
        String text = console.text();
        System.out.printf("vmi-attack attack=none on %s: %.1f s%n", kernel, (System.nanoTime() - start) / 1e9);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VMGUARD-RESULT name=" + SCRIPT + " status=0"), text);
        assertTrue(text.lines().anyMatch(line -> line.startsWith("VMI-CLEAN-DONE iterations=")), text);
        assertTrue(text.lines().noneMatch(line -> line.startsWith("VMI-ATTACK")), text);
        return new Seen(text, processes, facts);
    }

    /**
     * Our process list against the guest's own, printed just before and just after we looked: everything in
     * both is ours too, with the same parent and the kernel's (15-character) name; we add at most the
     * resting script's own child.
     */
    private static void assertSameProcesses(Seen seen) {
        String text = seen.console();
        int second = text.indexOf("VMI-REST");
        List<String> before = processes(text);
        List<String> after = processes(text.substring(second));
        Map<Integer, Introspection.ProcessInfo> ours = new java.util.HashMap<>();
        seen.processes().forEach(p -> ours.put(p.pid(), p));
        java.util.Set<Integer> guestPids = new java.util.HashSet<>();
        for (String line : before) {
            guestPids.add(Integer.parseInt(line.split(" ", 2)[0]));
        }
        for (String line : after) {
            guestPids.add(Integer.parseInt(line.split(" ", 2)[0]));
            if (!before.contains(line)) {
                continue;
            }
            String[] fields = line.split(" ", 3);
            Introspection.ProcessInfo process = ours.get(Integer.parseInt(fields[0]));
            assertTrue(process != null, "missing from ours: " + line + "\nours: " + seen.processes());
            assertEquals(Integer.parseInt(fields[1]), process.ppid(), line);
            assertTrue(fields[2].startsWith(process.name()), line + " vs ours " + process.name());
        }
        List<Introspection.ProcessInfo> extra = seen.processes().stream().filter(p -> !guestPids.contains(p.pid())).toList();
        assertTrue(extra.size() <= 1, "seen only by us: " + extra);
    }

    /** The "pid ppid name" lines between VMI-PS-BEGIN and VMI-PS-END (kernel messages interleaved are skipped). */
    private static List<String> processes(String console) {
        List<String> lines = console.lines().toList();
        int begin = lines.indexOf("VMI-PS-BEGIN");
        int end = lines.indexOf("VMI-PS-END");
        assertTrue(begin >= 0 && end > begin, console);
        return lines.subList(begin + 1, end).stream().filter(line -> line.matches("\\d+ \\d+ .+")).toList();
    }

    /** _text as the guest's /proc/kallsyms shows it (root sees real addresses). */
    private static long runningText(String console) {
        return console.lines().filter(line -> line.startsWith("VMI-KALLSYMS _text="))
                .mapToLong(line -> Long.parseUnsignedLong(line.substring("VMI-KALLSYMS _text=".length()), 16))
                .findFirst().orElseThrow(() -> new AssertionError("no VMI-KALLSYMS line:\n" + console));
    }

    /** _text as linked. */
    private static long linkedText(Path systemMap) throws IOException {
        try (var lines = Files.lines(systemMap)) {
            return lines.map(line -> line.split(" "))
                    .filter(fields -> fields.length == 3 && fields[2].equals("_text"))
                    .mapToLong(fields -> Long.parseUnsignedLong(fields[0], 16))
                    .findFirst().orElseThrow(() -> new AssertionError("_text not in " + systemMap));
        }
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
    void ourBzImageIsMovedByKaslrAndTheGuestListsItsProcesses() throws Exception {
        Seen seen = cleanRun(BuiltGuest.bzImage(), 256L << 20);
        String console = seen.console();
        assertSameProcesses(seen);
        assertEquals(String.format("0x%x", runningText(console) - linkedText(BuiltGuest.systemMap())), seen.kernel().get("kaslr_slide"),
                "the slide introspection found by itself");

        long slide = runningText(console) - linkedText(BuiltGuest.systemMap());
        assertNotEquals(0, slide, "KASLR left the kernel where it was linked\n" + console);
        assertEquals(0, slide % KASLR_ALIGN, "slide " + Long.toHexString(slide));
        List<String> processes = processes(console);
        assertTrue(processes.contains("1 0 init"), String.join("\n", processes));
        assertTrue(processes.contains("2 0 kthreadd"), String.join("\n", processes));
    }

    /**
     * Debian's kernel (virtio and most drivers are modules it cannot load here, so the VM has no devices it
     * needs) boots to the same script. Slow under the interpreter: a full distribution kernel's initcalls.
     */
    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
    void debiansKernelBootsToTheScriptAndTheGuestListsItsProcesses() throws Exception {
        Seen seen = cleanRun(DistroKernel.vmlinuz(), 512L << 20);
        String console = seen.console();
        // A kernel introspection has never seen, found with no profile: its kallsyms, KASLR slide and BTF.
        assertSameProcesses(seen);
        assertTrue(String.valueOf(seen.kernel().get("banner")).startsWith("Linux version 6.12."), seen.kernel().toString());
        assertEquals(true, seen.kernel().get("btf"), seen.kernel().toString());
        assertEquals(String.format("0x%x", runningText(console) - linkedText(DistroKernel.systemMap())), seen.kernel().get("kaslr_slide"));

        assertTrue(console.contains("Linux version 6.12."), console);
        long slide = runningText(console) - linkedText(DistroKernel.systemMap());
        assertEquals(0, slide % KASLR_ALIGN, "slide " + Long.toHexString(slide));
        List<String> processes = processes(console);
        assertTrue(processes.contains("1 0 init"), String.join("\n", processes));
        assertTrue(processes.contains("2 0 kthreadd"), String.join("\n", processes));
    }
}
