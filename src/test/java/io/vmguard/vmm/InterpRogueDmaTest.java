package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.testing.BuiltGuest;
import io.vmguard.testing.RecordingEventSink;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rogue-DMA guest script (guest/programs/rogue-dma.c) against the DMA test device: a root process in
 * the guest programs the device to write over the kernel's /proc/version format string. With
 * {@code --iommu off} (a PC without an IOMMU) the attack succeeds, which shows the test can fail; with the
 * IOMMU on (the default) the device, which no driver attached to a domain, gets no DMA at all: the attack
 * fails, the kernel is intact, the guest's virtio-iommu driver logs the fault from the event queue, a
 * security event names the device, and the VM runs on to power off normally.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpRogueDmaTest {
    @TempDir
    Path dir;

    private VmConfig rogue(Path console, boolean iommu) {
        return new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=rogue-dma", 256L << 20, "interp", new SerialTarget.File(console))
                .withDmaTestDevice(true).withIommu(iommu);
    }

    @Test
    void withoutTheIommuARootProcessOverwritesTheKernelByDma() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome;
        try (Vm vm = Vm.create(rogue(console, false), new InterpEngine())) {
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(1), outcome, text);
        assertTrue(text.contains("VERDICT kernel-overwritten"), text);
        assertTrue(text.contains("ROGUE-DMA-OWNED"), text);
    }

    @Test
    void withTheIommuTheAttackIsRefusedReportedAndSurvived() throws Exception {
        Path console = dir.resolve("console.log");
        RecordingEventSink events = new RecordingEventSink();
        RunOutcome outcome;
        try (Vm vm = Vm.create(rogue(console, true), new InterpEngine(), events.forVm("rogue"))) {
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        assertTrue(text.contains("VERDICT attack-failed kernel-intact"), text);
        assertTrue(text.lines().anyMatch(line -> line.matches(".*virtio_iommu .*fault from EP \\d+ at 0x[0-9a-f]+ \\[W\\].*")),
                "the guest's driver logs the fault it read from the event queue:\n" + text);

        List<SecurityEvent> faults = events.events.stream()
                .filter(e -> e.source() == Source.IOMMU && e.kind().equals("dma-fault")).toList();
        assertTrue(faults.stream().anyMatch(e -> e.details().get("access").equals("write")), "events: " + events.events);
        SecurityEvent fault = faults.getFirst();
        assertEquals(Severity.ALARM, fault.severity());
        assertEquals("dma-test", fault.details().get("device"));
        assertEquals("not-attached", fault.details().get("reason"));
    }
}
