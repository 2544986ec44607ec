package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.arch.x86.acpi.AcpiPlatform;
import io.vmguard.arch.x86.acpi.AcpiTables;
import io.vmguard.arch.x86.acpi.Viot;
import io.vmguard.cli.RunCommand;
import io.vmguard.engine.interp.InterpEngine;
import io.vmguard.pci.PciAddress;
import io.vmguard.pci.PciConfigSpace;
import io.vmguard.pci.PciDevice;
import java.lang.foreign.MemorySegment;
import io.vmguard.testing.BuiltGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux's own reading of vmguard's VIOT (drivers/acpi/viot.c), on a VM without the virtio-iommu
 * ({@code --iommu off}): the tables are installed again over the ones {@link Vm#create} wrote (same RSDP
 * address), now with a VIOT. (With the IOMMU on, the guest tests of the IOMMU show Linux using the VIOT.)
 * ACPICA lists the table (its checksum and the XSDT entry hold), and the virtio-pci IOMMU node is resolved
 * against the PCI functions Linux enumerated: a BDF where there is no function gives "Could not find PCI
 * IOMMU", which shows the node was read; a BDF where there is one (a plain function standing in for the
 * IOMMU) gives no complaint at all.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpViotTest {
    private static final String VIOT_LISTED = "ACPI: VIOT 0x";
    private static final List<String> COMPLAINTS = List.of("Could not find PCI IOMMU", "Node pointer overflows", "Empty node",
            "Invalid PCI node size", "Invalid MMIO node size", "Unsupported node", "No IOMMU node found", "Failed to get table");

    @TempDir
    Path dir;

    /** A function with no BARs and no driver: something for the IOMMU node to name. */
    private static final class PlainFunction implements PciDevice {
        private final PciConfigSpace config = PciConfigSpace.builder(0x1b36, 0x0005).classCode(0xff, 0, 0).build();

        @Override
        public PciConfigSpace config() {
            return config;
        }

        @Override
        public void readBar(int bar, long offset, MemorySegment data) {
            data.fill((byte) 0);
        }

        @Override
        public void writeBar(int bar, long offset, MemorySegment data) {}
    }

    private String bootWithViot(PciAddress iommu) throws Exception {
        Path console = dir.resolve("console.log");
        VmConfig config = new VmConfig(BuiltGuest.vmlinux(), BuiltGuest.initramfs(),
                RunCommand.DEFAULT_COMMAND_LINE + " vmguard.run=hello", 256L << 20, "interp", new SerialTarget.File(console))
                .withIommu(false); // the VIOT installed here names a stand-in, not the VMM's own virtio-iommu
        RunOutcome outcome;
        try (Vm vm = Vm.create(config, new InterpEngine(), pci -> pci.add(new PlainFunction()))) {
            long rsdp = AcpiTables.install(vm.memory(), new AcpiPlatform(1, true, List.of(),
                    Optional.of(new Viot(iommu, List.of(Viot.PciRange.bus(0)), List.of()))));
            assertEquals(X86Layout.ACPI_TABLES, rsdp, "the RSDP Linux is given stays where it was");
            outcome = vm.run();
        }
        String text = Files.readString(console);
        assertEquals(new RunOutcome.PoweredOff(0), outcome, text);
        return text;
    }

    @Test
    void linuxListsTheViotAndResolvesItsIommuNodeToThePciFunctionItNames() throws Exception {
        String text = bootWithViot(new PciAddress(0, 1, 0));
        assertTrue(text.lines().anyMatch(line -> line.contains(VIOT_LISTED) && line.contains("000058 (v00 VMGARD VMGUARD")), text);
        for (String complaint : COMPLAINTS) {
            assertTrue(!text.contains("VIOT: " + complaint), complaint + "\n" + text);
        }
    }

    @Test
    void anIommuNodeNamingNoFunctionIsReportedSoTheNodeWasRead() throws Exception {
        String text = bootWithViot(new PciAddress(0, 0x1f, 0));
        assertTrue(text.contains("ACPI: VIOT: Could not find PCI IOMMU"), text);
    }
}
