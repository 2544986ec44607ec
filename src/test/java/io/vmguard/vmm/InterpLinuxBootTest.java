package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.MsiSink;
import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.pci.InterruptPin;
import io.vmguard.pci.MsixCapability;
import io.vmguard.pci.PciBar;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import io.vmguard.pci.PciRoot;
import io.vmguard.testing.BuiltGuest;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/** The built guest image, booted by the interpreter: real Linux, real busybox, a verdict through the exit port. */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpLinuxBootTest {
    @TempDir
    Path dir;

    private RunOutcome boot(String script, Path console) throws Exception {
        return boot(script, console, pci -> {});
    }

    private RunOutcome boot(String script, Path console, Consumer<PciRoot> pciDevices) throws Exception {
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=" + script, 256L << 20, "interp",
                new SerialTarget.File(console));
        try (Vm vm = Vm.create(config, new InterpEngine(), pciDevices)) {
            return vm.run();
        }
    }

    private String bootToSuccess(String script) throws Exception {
        return bootToSuccess(script, pci -> {});
    }

    /** Boots {@code script}, checks the guest powered off with status 0, and returns what it printed. */
    private String bootToSuccess(String script, Consumer<PciRoot> pciDevices) throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = boot(script, console, pciDevices);
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        return text;
    }

    @Test
    void theGuestBootsToItsReadyMarkerAndRunsAScript() throws Exception {
        String text = bootToSuccess("hello");
        assertTrue(text.contains("VMGUARD-GUEST-READY"), text);
        assertTrue(text.contains("hello from vmguard guest"), text);
        assertTrue(text.contains("VMGUARD-RESULT name=hello status=0"), text);
    }

    /**
     * The guest's kernel takes the interpreted CPU at its word (IA32_ARCH_CAPABILITIES): not affected by Meltdown,
     * MDS, L1TF and the rest, so a distribution kernel skips page-table isolation and buffer clearing. Without the
     * MSR, Linux judged this model (an Ivy Bridge signature, under a hypervisor) vulnerable to most of them.
     */
    @Test
    void theGuestKernelSeesACpuWithoutTheSpeculationBugsAnInterpreterCannotHave() throws Exception {
        String text = bootToSuccess("cpu-vulnerabilities");
        for (String bug : List.of("meltdown", "mds", "l1tf", "spec_store_bypass", "tsx_async_abort", "mmio_stale_data",
                "itlb_multihit", "gather_data_sampling", "reg_file_data_sampling", "indirect_target_selection")) {
            assertTrue(text.contains("vulnerability " + bug + ": Not affected"), bug + "\n" + text);
        }
    }

    /**
     * The guest test suite (guest/programs/test-*.c): integer and flag semantics, division, shifts, SSE,
     * x87, string ops, fork/exec/wait, signals, threads and futexes, mmap and page faults, time; all
     * inside Linux, under the interpreter.
     */
    @Test
    void theGuestTestSuitePassesInsideLinux() throws Exception {
        String text = bootToSuccess("cpu-tests");
        assertTrue(text.lines().anyMatch(line -> line.matches("cpu-tests: [1-9][0-9]* passed, 0 failed")), text);
        assertTrue(text.lines().noneMatch(line -> line.startsWith("FAIL")), text);
    }

    /**
     * Linux finds the PCI bus through configuration mechanism 1 (there are no ACPI tables yet), sees the
     * host bridge, sizes a device's 32-bit and 64-bit BARs, and keeps the addresses vmguard gave them
     * as firmware would: no "can't claim", no reassignment.
     */
    @Test
    void linuxEnumeratesThePciBusAndKeepsTheBarsAsAssigned() throws Exception {
        String text = bootToSuccess("hello", pci -> pci.add(new BarsOnlyDevice()));
        List<String> pciLines = text.lines().filter(line -> line.toLowerCase(Locale.ROOT).contains("pci")).toList();
        String log = String.join("\n", pciLines);
        assertTrue(log.contains("PCI: Using configuration type 1 for base access"), log);
        assertTrue(log.contains("pci 0000:00:00.0: [1b36:0008] type 00 class 0x060000"), log);
        assertTrue(log.contains("pci 0000:00:01.0: [1b36:0005] type 00 class 0xff0000"), log);
        assertTrue(log.contains("pci 0000:00:01.0: BAR 0 [mem 0xc0000000-0xc0000fff]"), log);
        assertTrue(log.contains("pci 0000:00:01.0: BAR 2 [mem 0xc0004000-0xc0007fff 64bit pref]"), log);
        assertTrue(pciLines.stream().noneMatch(line -> line.contains("0000:00:01.0") && line.matches(".*(can't|assigned|invalid|conflict).*")), log);
    }

    /** A PCI function with a 32-bit BAR holding an MSI-X table and a 64-bit prefetchable BAR; no driver binds to it. */
    private static final class BarsOnlyDevice implements PciDevice {
        private final MsixCapability msix = new MsixCapability(4, 0, 0, 0, 0x800, MsiSink.NONE);
        private final PciConfigSpace config = PciConfigSpace.builder(0x1b36, 0x0005) // QEMU's PCI test device ID
                .classCode(0xff, 0x00, 0x00)
                .bar(0, PciBar.memory32(0x1000))
                .bar(2, PciBar.memory64(0x4000).asPrefetchable())
                .interruptPin(InterruptPin.INTA)
                .capability(msix)
                .build();

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public void readBar(int bar, long offset, MemorySegment data) {
            if (!msix.readBar(bar, offset, data)) {
                data.fill((byte) 0);
            }
        }

        @Override
        public void writeBar(int bar, long offset, MemorySegment data) {
            msix.writeBar(bar, offset, data);
        }
    }

    @Test
    void aFailingScriptsStatusBecomesTheRunsStatus() throws Exception {
        Path console = dir.resolve("console.log");
        RunOutcome outcome = boot("fail", console);
        assertEquals(new RunOutcome.PoweredOff(3), outcome, Files.readString(console));
    }
}
