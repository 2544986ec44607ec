package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.net.NetSpec;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.virtio.block.DiskConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The virtio devices as Linux uses them, under the interpreter: disks that keep what was written across
 * power-off, two VMs talking over the unprivileged socket backend, a shell on hvc0, bytes from
 * /dev/hwrng. Devices sit on virtio-pci (the default) except where a test says virtio-mmio. The guest's scripts (guest/initramfs/scripts) give the verdicts; the host checks them
 * independently where it can (the disk image is read with e2fsprogs' debugfs, not by the guest).
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpVirtioDevicesTest {
    /** What disk-write puts in /vmguard/disk-test.txt: the output of {@code seq 1 20000}. */
    private static final String DISK_TEST_CONTENT =
            IntStream.rangeClosed(1, 20000).mapToObj(Integer::toString).collect(Collectors.joining("\n", "", "\n"));

    @TempDir
    Path dir;

    private VmConfig guest(String script, Path console, String extraCommandLine) {
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script + " " + extraCommandLine, 256L << 20, "interp",
                new SerialTarget.File(console));
    }

    private static RunOutcome run(VmConfig config) throws Exception {
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            return vm.run();
        }
    }

    @Test
    void anExt4DiskWrittenAndSyncedKeepsItsDataAcrossPowerOffAndASecondBoot() throws Exception {
        Path image = dir.resolve("disk.img");
        host("truncate", "-s", "64M", image.toString());
        host("mkfs.ext4", "-q", "-F", image.toString());

        Path first = dir.resolve("first.log");
        RunOutcome written = run(guest("disk-write", first, "").withDisks(List.of(new DiskConfig(image, false))));
        assertEquals(new RunOutcome.PoweredOff(0), written, Files.readString(first));

        // The host reads the image itself: what the guest synced is on disk, in the filesystem.
        String onDisk = host("debugfs", "-R", "cat /vmguard/disk-test.txt", image.toString());
        assertEquals(sha256(DISK_TEST_CONTENT), sha256(onDisk));

        Path second = dir.resolve("second.log");
        RunOutcome read = run(guest("disk-read", second, "").withDisks(List.of(DiskConfig.parse(image + ",readonly"))));
        String text = Files.readString(second);
        assertEquals(new RunOutcome.PoweredOff(0), read, text);
        assertTrue(text.contains("disk-read: sha256 " + sha256(DISK_TEST_CONTENT)), text);
        assertTrue(text.lines().anyMatch(line -> line.matches("disk-read: serial \\S+ ro 1")), text);
    }

    @Test
    void twoVmsOnTheSocketBackendPingEachOtherAndMoveAFileIntact() throws Exception {
        FileTransferBetweenVms.Consoles consoles = FileTransferBetweenVms.run(dir, this::guest);
        assertTrue(consoles.client().contains("3 packets transmitted, 3 packets received"), consoles.client());
    }

    /** A VM on a TAP talks to the host's own network stack: ping, then 1 MiB over TCP to a host listener. */
    @Test
    void aVmOnATapPingsTheHostAndSendsItAFileIntact() throws Exception {
        HostTapTransfer.run("vmgv", 250, (tap, args) -> {
            Path console = dir.resolve("console.log");
            RunOutcome outcome = run(guest("net-send", console, args).withNets(List.of(NetSpec.parse("tap:" + tap))));
            String text = Files.readString(console);
            assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
            return text;
        });
    }

    @Test
    void theVirtioConsoleCarriesAShell() throws Exception {
        // Like a person at a terminal, type only once the shell's prompt is there: input that reaches
        // hvc0 before any program opens it is discarded by the guest's tty layer, as on a real line.
        PipedOutputStream keyboard = new PipedOutputStream();
        PipedInputStream typed = new PipedInputStream(keyboard);
        Terminal screen = new Terminal("# ", () -> {
            keyboard.write("echo marker-$((6 * 7)); exit 7\n".getBytes(StandardCharsets.US_ASCII));
            keyboard.flush();
        });
        Path serial = dir.resolve("serial.log");
        VmConfig config = guest("hvc-shell", serial, "").withConsole(new SerialTarget.Streams(typed, screen));
        RunOutcome outcome = run(config);
        keyboard.close();
        String hvc = screen.text();
        assertEquals(new RunOutcome.PoweredOff(7), outcome, Files.readString(serial) + "\n--- hvc0 ---\n" + hvc);
        assertTrue(hvc.contains("marker-42"), hvc);
    }

    /** What a console shows; runs {@code onPrompt} once, the first time {@code prompt} appears. */
    private static final class Terminal extends OutputStream {
        interface Typing {
            void type() throws IOException;
        }

        private final ByteArrayOutputStream shown = new ByteArrayOutputStream();
        private final String prompt;
        private final Typing onPrompt;
        private boolean typed;

        Terminal(String prompt, Typing onPrompt) {
            this.prompt = prompt;
            this.onPrompt = onPrompt;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] bytes, int offset, int length) throws IOException {
            shown.write(bytes, offset, length);
            if (!typed && text().contains(prompt)) {
                typed = true;
                onPrompt.type();
            }
        }

        synchronized String text() {
            return shown.toString(StandardCharsets.US_ASCII);
        }
    }

    /** On virtio-mmio, found through the DSDT's LNRO0005 devices rather than PCI enumeration. */
    @Test
    void hwrngOnVirtioMmioGivesTheGuestRandomBytes() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = run(guest("hwrng", console, "").withVirtioTransport(VirtioTransport.MMIO));
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("hwrng: read 4096 bytes"), text);
        assertTrue(text.lines().anyMatch(line -> line.startsWith("hwrng: device /sys/devices/platform/LNRO0005:")), text);
    }

    private static String host(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), String.join(" ", command));
        return output;
    }

    private static String sha256(String text) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }
}
