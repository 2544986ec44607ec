package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.InitramfsOverlay;
import io.vmguard.virtio.block.DiskConfig;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux, under the interpreter, drives a virtio-blk disk on the default transport, virtio-pci: it
 * enumerates the function, binds virtio_pci, takes MSI-X vectors, and reads and writes an ext4 file
 * system the host then checks.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpVirtioPciBootTest {
    private static final String SCRIPT = "pci-disk-write";
    /** The guest script as the repository has it: overlaid on the image, so the test needs no image rebuild. */
    private static final Path SCRIPT_SOURCE = Path.of("guest/initramfs/scripts", SCRIPT);
    private static final Pattern MSI_LINE = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+PCI-MSI\\S*\\s+\\S+\\s+(virtio1-\\S+)$");

    @TempDir
    Path dir;

    /** Boots with a fresh ext4 disk on virtio-pci and {@code extraCommandLine}; returns the console text. */
    private String bootWithDisk(Path disk, String extraCommandLine) throws Exception {
        makeExt4(disk);
        Path initrd = InitramfsOverlay.write(BuiltGuest.initramfs(),
                Map.of("vmguard/scripts/" + SCRIPT, Files.readAllBytes(SCRIPT_SOURCE)), dir.resolve("initrd.gz"));
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), initrd,
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + SCRIPT + " " + extraCommandLine,
                256L << 20, "interp", new SerialTarget.File(console), List.of(new DiskConfig(disk, false)), List.of(),
                Optional.empty());
        assertEquals(VirtioTransport.PCI, config.virtioTransport(), "PCI is the default");

        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VMGUARD-RESULT name=" + SCRIPT + " status=0"), text);
        assertEquals("written by the vmguard guest over virtio\n", debugfsCat(disk, "/guest-file"));
        return text;
    }

    @Test
    void linuxWritesAFileOnAVirtioBlockDiskOnPciUsingMsix() throws Exception {
        Path disk = dir.resolve("disk.img");
        String text = bootWithDisk(disk, "");
        // Slot 1 is the virtio-iommu (on by default), which translates the disk's DMA.
        assertTrue(text.contains("pci 0000:00:01.0: [1af4:1057] type 00 class 0x088000"), "the IOMMU enumerated in slot 1\n" + text);
        assertTrue(text.contains("pci 0000:00:02.0: [1af4:1042] type 00 class 0x018000"), "the disk enumerated in slot 2\n" + text);
        assertTrue(text.contains("virtio-pci 0000:00:02.0: Adding to iommu group"), "the disk is behind the IOMMU\n" + text);
        assertTrue(text.contains(SCRIPT + ": virtio1 device 0x0002 on 0000:00:02.0"), "virtio_pci bound it\n" + text);
        assertTrue(text.contains("virtio_blk virtio1: [vda] 32768 512-byte logical blocks"), text);
        assertTrue(text.lines().noneMatch(line -> line.contains("virtio_mmio")), text);

        long config0 = -1;
        long requests = -1;
        for (String line : text.lines().toList()) {
            Matcher matcher = MSI_LINE.matcher(line);
            if (matcher.matches()) {
                long count = Long.parseLong(matcher.group(1));
                if (matcher.group(2).equals("virtio1-config")) {
                    config0 = count;
                } else if (matcher.group(2).startsWith("virtio1-req")) {
                    requests = count;
                }
            }
        }
        assertTrue(config0 >= 0, "an MSI-X vector for configuration changes\n" + text);
        assertTrue(requests > 0, "the request queue's own MSI-X vector fired\n" + text);
    }

    /** Without MSI the device falls back to INTx, which Linux routes through the DSDT's _PRT to an I/O APIC pin. */
    @Test
    void withoutMsiTheDiskInterruptsThroughTheIoApicAsTheAcpiRoutingTableSays() throws Exception {
        String text = bootWithDisk(dir.resolve("disk.img"), "pci=nomsi");
        assertTrue(text.contains("PCI: Using ACPI for IRQ routing"), text);
        int diskIntaGsi = io.vmguard.arch.x86.PciInterruptRouting.gsi(2, 0); // slot 2: the IOMMU is in slot 1
        Pattern intx = Pattern.compile("^\\s*\\d+:\\s+(\\d+)\\s+IO-APIC\\s+" + diskIntaGsi + "-fasteoi\\s+virtio1$");
        long interrupts = text.lines().map(intx::matcher).filter(Matcher::matches).mapToLong(m -> Long.parseLong(m.group(1)))
                .findFirst().orElse(-1);
        assertTrue(interrupts > 0, "the disk's (virtio1's) INTx on GSI " + diskIntaGsi + " fired\n" + text);
        assertTrue(text.lines().noneMatch(line -> line.contains("PCI-MSI")), text);
    }

    private static void makeExt4(Path image) throws IOException, InterruptedException {
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(16L << 20); // sparse
        }
        run("mkfs.ext4", "-q", "-F", image.toString());
    }

    private static String debugfsCat(Path image, String file) throws IOException, InterruptedException {
        return run("debugfs", "-R", "cat " + file, image.toString());
    }

    /** Runs a host tool (e2fsprogs); skips the test where it is not installed. */
    private static String run(String... command) throws IOException, InterruptedException {
        Path tool = Stream.of("/usr/sbin", "/sbin", "/usr/bin", "/bin").map(d -> Path.of(d, command[0]))
                .filter(Files::isExecutable).findFirst().orElse(null);
        assumeTrue(tool != null, command[0] + " (e2fsprogs) is not installed");
        command[0] = tool.toString();
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, process.waitFor(), String.join(" ", command) + ": " + output);
        return output;
    }
}
