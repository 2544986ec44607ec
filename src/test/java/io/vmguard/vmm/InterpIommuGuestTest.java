package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.virtio.block.DiskConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Block and network I/O through the virtio-iommu (on by default), in the guest's strict mode (every unmap
 * waits for the device) and lazy mode (unmaps batched behind a flush queue): the devices sit in IOMMU
 * groups, the guest runs the mode asked for, and the data arrives intact through the mappings the guest's
 * DMA API makes. The disk is checked on the host (debugfs), the network transfer by both ends' checksums.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpIommuGuestTest {
    private static final String DISK_TEST_SHA256 = "f6351f5ead9a700e34275480b3856ea738122a7c57bdeb744a631251c069587a";

    @TempDir
    Path dir;

    private VmConfig guest(String script, Path console, String mode, String extra) {
        String strict = mode.equals("strict") ? "iommu.strict=1" : "iommu.strict=0";
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " " + strict + " vmguard.run=" + script + " " + extra, 256L << 20, "interp",
                new SerialTarget.File(console));
    }

    private static RunOutcome run(VmConfig config) throws Exception {
        assertTrue(config.iommu(), "the IOMMU is on by default");
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            return vm.run();
        }
    }

    private static void assertTranslated(String text, String mode) {
        assertTrue(text.contains("iommu: DMA domain TLB invalidation policy: " + mode + " mode"), "the guest runs " + mode + "\n" + text);
        assertTrue(text.contains("virtio_iommu virtio0: page mask: 0xfffffffffffff000"), text);
        assertTrue(text.lines().noneMatch(line -> line.contains("fault from EP")), "no device faulted\n" + text);
    }

    @ParameterizedTest
    @ValueSource(strings = {"strict", "lazy"})
    void aDiskWrittenThroughIommuMappingsHoldsTheDataOnTheHost(String mode) throws Exception {
        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[0]);
        try (var file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(64L << 20);
        }
        Path console = dir.resolve("console.log");
        RunOutcome outcome = run(guest("disk-write", console, mode, "").withDisks(List.of(new DiskConfig(image, false))));
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTranslated(text, mode);
        assertTrue(text.contains("virtio-pci 0000:00:02.0: Adding to iommu group"), "the disk is in an IOMMU group\n" + text);
        Process debugfs = new ProcessBuilder("debugfs", "-R", "cat /vmguard/disk-test.txt", image.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] onDisk = debugfs.getInputStream().readAllBytes();
        assertEquals(0, debugfs.waitFor());
        assertEquals(DISK_TEST_SHA256, java.util.HexFormat.of().formatHex(
                java.security.MessageDigest.getInstance("SHA-256").digest(onDisk)), "what the guest wrote is on the disk");
    }

    @ParameterizedTest
    @ValueSource(strings = {"strict", "lazy"})
    void twoVmsMoveAFileIntactThroughTheirIommus(String mode) throws Exception {
        FileTransferBetweenVms.Consoles consoles = FileTransferBetweenVms.run(dir,
                (script, console, extra) -> guest(script, console, mode, extra));
        assertTranslated(consoles.client(), mode);
        assertTranslated(consoles.server(), mode);
    }
}
