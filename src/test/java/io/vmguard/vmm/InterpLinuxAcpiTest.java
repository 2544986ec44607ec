package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.testing.BuiltGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux, booted once under the interpreter, says in its log what it learnt from vmguard's ACPI tables: the
 * tables themselves, the I/O APIC and timer override from the MADT, symmetric I/O mode, the PCI root
 * bridge and the ISA devices from the DSDT, and (where the kernel can use it) ECAM from the MCFG.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpLinuxAcpiTest {
    @TempDir
    static Path dir;
    private static String log;
    private static RunOutcome outcome;

    @BeforeAll
    static void boot() throws Exception {
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=hello", 256L << 20, "interp", new SerialTarget.File(console));
        try (Vm vm = Vm.create(config, new InterpEngine())) {
            outcome = vm.run();
        }
        log = Files.readString(console);
    }

    private static void assertLogHas(String regex) {
        assertTrue(Pattern.compile(regex, Pattern.MULTILINE).matcher(log).find(), "boot log lacks /" + regex + "/\n" + log);
    }

    @Test
    void linuxFindsEveryTableThroughTheRsdp() {
        assertLogHas("ACPI: RSDP 0x00000000000E0000 000024 \\(v02 VMGARD\\)");
        for (String table : List.of("XSDT", "FACP", "DSDT", "APIC", "MCFG")) {
            assertLogHas("ACPI: " + table + " 0x00000000000E[0-9A-F]{4} [0-9A-F]{6} \\(v0\\d VMGARD VMGUARD ");
        }
        assertTrue(Pattern.compile("ACPI (BIOS )?(Error|Warning)").matcher(log).results().findAny().isEmpty(), log);
    }

    @Test
    void theMadtPutsLinuxInSymmetricIoModeOnTheIoApic() {
        assertLogHas("IOAPIC\\[0\\]: apic_id 0, version 17, address 0xfec00000, GSI 0-23");
        assertLogHas("ACPI: INT_SRC_OVR \\(bus 0 bus_irq 0 global_irq 2 dfl dfl\\)");
        assertLogHas("ACPI: Using ACPI \\(MADT\\) for SMP configuration information");
        assertLogHas("APIC: Switch to symmetric I/O mode setup");
        assertLogHas("ACPI: Using IOAPIC for interrupt routing");
    }

    @Test
    void theDsdtGivesThePciRootBridgeAndTheIsaDevices() {
        assertLogHas("ACPI: PCI Root Bridge \\[PCI0\\] \\(domain 0000 \\[bus 00\\]\\)");
        assertLogHas("pci_bus 0000:00: root bus resource \\[mem 0xc0000000-0xcfffffff window\\]");
        assertLogHas("system 00:0\\d: \\[mem 0xe0000000-0xe00fffff\\] has been reserved");
        // The console UART through its ACPI description: its interrupt (via the I/O APIC) carries userland's output.
        assertLogHas("00:0\\d: ttyS0 at I/O 0x3f8 \\(irq = \\d+, base_baud = 115200\\) is a 16550A");
        assertLogHas("rtc_cmos 00:0\\d: registered as rtc0");
        assertEquals(new RunOutcome.PoweredOff(0), outcome, log);
        assertLogHas("^VMGUARD-RESULT name=hello status=0");
    }

    @Test
    void aKernelWithMmconfigUsesTheEcamWindowFromTheMcfg() throws Exception {
        String config = Files.readString(BuiltGuest.directory().resolve("config"));
        assumeTrue(config.contains("\nCONFIG_PCI_MMCONFIG=y\n"), "guest kernel built without CONFIG_PCI_MMCONFIG");
        // Linux 6.1 calls it MMCONFIG, 6.12 calls it ECAM, and words the lines differently.
        assertLogHas("PCI: (MMCONFIG for domain 0000 \\[bus 00-00\\] at \\[mem 0xe0000000-0xe00fffff\\] \\(base 0xe0000000\\)"
                + "|ECAM \\[mem 0xe0000000-0xe00fffff\\] \\(base 0xe0000000\\) for domain 0000 \\[bus 00-00\\])");
        // Linux may first decline ECAM (no e820 check before PCI config access works) and accept it later
        // through ACPI: its last word on it must be that the window is reserved.
        var verdicts = Pattern.compile("PCI: ((MMCONFIG at|ECAM) \\[mem 0xe0000000-0xe00fffff\\] reserved (in|as) .*"
                        + "|not using (MMCONFIG|ECAM))")
                .matcher(log).results().map(result -> result.group(1)).toList();
        assertTrue(!verdicts.isEmpty() && !verdicts.getLast().startsWith("not using"), verdicts + "\n" + log);
    }
}
