package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.vmguard.cli.RunCommand;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.HostTool;
import io.vmguard.testing.InitramfsOverlay;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest's device fuzzer ({@code guest/programs/fuzz-devices.c}, the {@code fuzz-devices} guest script) run
 * briefly on a few seeds, each in a vmguard process of its own as {@code scripts/fuzz-devices} runs it: random
 * BAR accesses of every width and alignment, config space and BAR register writes, port I/O and virtio queues
 * over garbage rings, with the kernel's drivers bound. The guest may crash; the VMM must not: each process
 * ends within its timeout, with a status that is the guest's doing (the fuzzer finished, or the guest
 * panicked or reset), and no Java exception on stderr.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpDeviceFuzzTest {
    private static final String SCRIPT = "fuzz-devices";
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts", SCRIPT);
    private static final Path PROGRAM_SOURCE = Path.of("guest/programs/fuzz-devices.c");
    private static final long[] SEEDS = {1, 2, 3};
    private static final int OPS = 400;
    private static final long TIMEOUT_SECONDS = 120;
    private static final Pattern JAVA_EXCEPTION = Pattern.compile(
            "(?m)^(Exception in thread|Caused by: |\\s+at [\\w$.]+\\()|^[a-z]\\w*(\\.[\\w$]+)*\\.[A-Z][\\w$]*(Exception|Error)([: ]|$)");

    @TempDir
    Path dir;

    @Test
    void theVmmSurvivesTheGuestFuzzingItsDevices() throws Exception {
        Path initrd = guestWithFuzzer();
        List<String> outcomes = new ArrayList<>();
        for (long seed : SEEDS) {
            outcomes.add("seed " + seed + ": " + fuzz(initrd, seed));
        }
        System.out.println("fuzz-devices: " + String.join("; ", outcomes));
    }

    /** The built image with the fuzzer and its script as the repository has them now (no image rebuild). */
    private Path guestWithFuzzer() throws IOException, InterruptedException {
        Path base = BuiltGuest.initramfs();
        Path cc = HostTool.require("musl-gcc", "apt-get install -y musl-tools");
        Path binary = dir.resolve("fuzz-devices");
        Process compile = new ProcessBuilder(cc.toString(), "-static", "-O2", "-Wall", "-Wextra", "-s", "-o",
                binary.toString(), PROGRAM_SOURCE.toString()).redirectErrorStream(true).start();
        String output = new String(compile.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, compile.waitFor(), "musl-gcc fuzz-devices.c: " + output);
        return InitramfsOverlay.write(base, Map.of(
                "vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE),
                "vmguard/bin/fuzz-devices", Files.readAllBytes(binary)), dir.resolve("initrd.gz"));
    }

    /** One seed in its own vmguard process; returns how the guest ended. */
    private String fuzz(Path initrd, long seed) throws IOException, InterruptedException {
        Path console = dir.resolve("console-" + seed + ".log");
        Path stderr = dir.resolve("stderr-" + seed + ".log");
        Path disk = dir.resolve("disk-" + seed + ".img");
        Files.write(disk, new byte[1 << 20]);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "io.vmguard.cli.Main", "run",
                "--kernel", BuiltGuest.vmlinux().toString(), "--initrd", initrd.toString(),
                "--cmdline", RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " vmguard.fuzz.seed=" + seed
                        + " vmguard.fuzz.ops=" + OPS + " vmguard.fuzz.progress=100",
                "--serial", "file:" + console, "--disk", disk.toString(), "--console", "null");
        Process vmm = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(stderr.toFile()).start();
        if (!vmm.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            vmm.destroyForcibly().waitFor();
            fail("seed " + seed + ": vmguard still ran after " + TIMEOUT_SECONDS + " s (hang or livelock); console tail:\n"
                    + tail(console));
        }
        int status = vmm.exitValue();
        String errors = Files.readString(stderr);
        String text = Files.exists(console) ? Files.readString(console) : "";
        String context = "seed " + seed + ", exit " + status + "\nstderr:\n" + errors + "\nconsole tail:\n" + tail(console);
        assertFalse(JAVA_EXCEPTION.matcher(errors).find(), "a Java exception escaped; " + context);
        assertTrue(text.contains("FUZZ-START seed=" + seed), "the fuzzer started; " + context);
        if (status == 0) {
            assertTrue(text.contains("FUZZ-DONE seed=" + seed + " ops=" + OPS), context);
            assertTrue(text.contains("VMGUARD-RESULT name=" + SCRIPT + " status=0"), context);
            return "finished";
        }
        // Otherwise only the guest's own end is acceptable: a panic (panic=-1 reboots) or a reset.
        assertEquals(1, status, context);
        String verdict = errors.lines().filter(line -> line.startsWith("vmguard: ")).reduce((a, b) -> b).orElse("");
        assertTrue(verdict.startsWith("vmguard: guest reset"), "exit 1 must be the guest resetting; " + context);
        return text.contains("Kernel panic") ? "guest panicked" : "guest reset";
    }

    private static String tail(Path file) throws IOException {
        if (!Files.exists(file)) {
            return "(no console)";
        }
        List<String> lines = Files.readString(file).lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    }
}
