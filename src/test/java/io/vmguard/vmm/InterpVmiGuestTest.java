package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.DistroKernel;
import io.vmguard.testing.InitramfsOverlay;
import java.io.IOException;
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

    /** Boots {@code kernel} with the image's initramfs to {@code vmi-attack} with attack=none; returns the console. */
    private String cleanRun(Path kernel, long memoryBytes) throws Exception {
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(kernel, initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.attack=none", memoryBytes,
                "interp", new SerialTarget.File(console));
        long start = System.nanoTime();
        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            outcome = vm.run();
        }
        String text = Files.readString(console);
        System.out.printf("vmi-attack attack=none on %s: %.1f s%n", kernel, (System.nanoTime() - start) / 1e9);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VMGUARD-RESULT name=" + SCRIPT + " status=0"), text);
        assertTrue(text.lines().anyMatch(line -> line.startsWith("VMI-CLEAN-DONE iterations=")), text);
        assertTrue(text.lines().noneMatch(line -> line.startsWith("VMI-ATTACK")), text);
        return text;
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
        String console = cleanRun(BuiltGuest.bzImage(), 256L << 20);

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
        String console = cleanRun(DistroKernel.vmlinuz(), 512L << 20);

        assertTrue(console.contains("Linux version 6.12."), console);
        long slide = runningText(console) - linkedText(DistroKernel.systemMap());
        assertEquals(0, slide % KASLR_ALIGN, "slide " + Long.toHexString(slide));
        List<String> processes = processes(console);
        assertTrue(processes.contains("1 0 init"), String.join("\n", processes));
        assertTrue(processes.contains("2 0 kthreadd"), String.join("\n", processes));
    }
}
