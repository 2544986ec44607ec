package io.vmguard.arch.x86.acpi;

import static io.vmguard.arch.x86.acpi.InstalledTables.ascii;
import static io.vmguard.arch.x86.acpi.InstalledTables.le;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AcpiTablesTest {
    private static final AcpiPlatform.VirtioMmioSlot SLOT0 = new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE, 0x1000, 16);
    private static final AcpiPlatform.VirtioMmioSlot SLOT1 = new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE + 0x1000, 0x1000, 17);

    private GuestMemory memory;

    @BeforeEach
    void setUp() throws Exception {
        memory = GuestMemory.allocate(X86Layout.ramRanges(X86Layout.MINIMUM_MEMORY));
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    private InstalledTables install(AcpiPlatform platform) {
        return InstalledTables.read(memory, AcpiTables.install(memory, platform));
    }

    @Test
    void theRsdpSitsWhereLinuxScansAndBothChecksumsHold() {
        InstalledTables tables = install(new AcpiPlatform(1, true, List.of()));
        assertEquals(X86Layout.ACPI_TABLES, tables.rsdpAddress());
        assertTrue(tables.rsdpAddress() >= 0xe0000 && tables.rsdpAddress() + Rsdp.SIZE <= 0x100000);
        assertEquals(0, tables.rsdpAddress() % 16, "Linux scans 16-byte boundaries");
        byte[] rsdp = tables.rsdp();
        assertEquals(0, Checksum.sum(rsdp, 0, Rsdp.V1_SIZE), "ACPI 1.0 checksum");
        assertEquals(0, Checksum.sum(rsdp, 0, Rsdp.SIZE), "extended checksum");
        assertEquals(2, rsdp[15], "revision");
        assertEquals("VMGARD", ascii(rsdp, 9, 6));
        assertEquals(0, le(rsdp).getInt(16), "no RSDT");
        assertEquals(Rsdp.SIZE, le(rsdp).getInt(20));
        assertEquals(tables.addresses().get("XSDT"), le(rsdp).getLong(24));
    }

    @Test
    void everyTableHasItsLengthAndAZeroChecksumAndTheAreaHoldsThemWithoutOverlap() {
        InstalledTables tables = install(new AcpiPlatform(4, true, List.of(SLOT0, SLOT1)));
        assertEquals(List.of("XSDT", "FACP", "APIC", "MCFG", "DSDT"), List.copyOf(tables.tables().keySet()));
        List<long[]> ranges = new ArrayList<>();
        ranges.add(new long[] {tables.rsdpAddress(), tables.rsdpAddress() + Rsdp.SIZE});
        for (Map.Entry<String, byte[]> entry : tables.tables().entrySet()) {
            byte[] table = entry.getValue();
            assertEquals(table.length, le(table).getInt(Sdt.LENGTH_OFFSET), entry.getKey());
            assertEquals(0, Checksum.sum(table, 0, table.length), entry.getKey() + " checksum");
            assertEquals("VMGARD", ascii(table, 10, 6));
            long address = tables.addresses().get(entry.getKey());
            ranges.add(new long[] {address, address + table.length});
        }
        ranges.sort(Comparator.comparingLong(r -> r[0]));
        for (int i = 1; i < ranges.size(); i++) {
            assertTrue(ranges.get(i)[0] >= ranges.get(i - 1)[1], "tables overlap");
        }
        assertTrue(ranges.getLast()[1] <= X86Layout.ACPI_TABLES_END);
    }

    @Test
    void theFadtIsARevision6HardwareReducedTablePointingAtTheDsdt() {
        InstalledTables tables = install(new AcpiPlatform(1, true, List.of()));
        byte[] fadt = tables.get("FACP");
        ByteBuffer fields = le(fadt);
        assertEquals(Fadt.SIZE, fadt.length);
        assertEquals(6, fadt[8]);
        assertEquals(Fadt.HW_REDUCED_ACPI, fields.getInt(Fadt.FLAGS_OFFSET));
        assertEquals(Fadt.LEGACY_DEVICES | Fadt.I8042 | Fadt.NO_VGA, fields.getShort(Fadt.IAPC_BOOT_ARCH_OFFSET));
        assertEquals(tables.addresses().get("DSDT"), fields.getLong(Fadt.X_DSDT_OFFSET));
        assertEquals(0, fields.getInt(36), "no FACS");
        assertEquals(0, fields.getInt(40), "the 32-bit DSDT field stays 0 when X_DSDT is used");
        assertEquals(2, tables.get("DSDT")[8], "DSDT revision 2: 64-bit integers");
    }

    @Test
    void theMadtListsOneLocalApicPerVcpuTheIoApicAndTheTimerOverride() {
        byte[] madt = install(new AcpiPlatform(3, true, List.of())).get("APIC");
        ByteBuffer fields = le(madt);
        assertEquals(Sdt.HEADER_SIZE + 8 + 3 * 8 + 12 + 10, madt.length);
        assertEquals((int) X86Layout.LOCAL_APIC_BASE, fields.getInt(36));
        assertEquals(1, fields.getInt(40), "PCAT_COMPAT");
        int offset = 44;
        for (int cpu = 0; cpu < 3; cpu++, offset += 8) {
            assertArrayEquals(new byte[] {0, 8, (byte) cpu, (byte) cpu, 1, 0, 0, 0}, slice(madt, offset, 8), "local APIC " + cpu);
        }
        assertArrayEquals(new byte[] {1, 12, 0, 0}, slice(madt, offset, 4));
        assertEquals((int) X86Layout.IOAPIC_BASE, fields.getInt(offset + 4));
        assertEquals(0, fields.getInt(offset + 8), "GSI base");
        offset += 12;
        // Interrupt source override: bus 0 (ISA), IRQ 0, GSI 2, flags 0 (conforms to the bus).
        assertArrayEquals(new byte[] {2, 10, 0, 0, 2, 0, 0, 0, 0, 0}, slice(madt, offset, 10));
    }

    @Test
    void theMcfgDescribesTheEcamWindowAndOnlyWhenThereIsAPciHost() {
        byte[] mcfg = install(new AcpiPlatform(1, true, List.of())).get("MCFG");
        ByteBuffer fields = le(mcfg);
        assertEquals(Sdt.HEADER_SIZE + 8 + 16, mcfg.length);
        assertEquals(X86Layout.PCI_ECAM, fields.getLong(44));
        assertEquals(0, fields.getShort(52), "segment");
        assertEquals(0, mcfg[54], "start bus");
        assertEquals(X86Layout.PCI_LAST_BUS, mcfg[55], "end bus");

        InstalledTables withoutPci = install(new AcpiPlatform(1, false, List.of()));
        assertFalse(withoutPci.tables().containsKey("MCFG"));
        String namespace = ascii(withoutPci.get("DSDT"), 0, withoutPci.get("DSDT").length);
        assertFalse(namespace.contains("PCI0") || namespace.contains("MRES"), "no host bridge, no PCI0 or ECAM reservation");
    }

    @Test
    void theDsdtNamesOneLnro0005DevicePerVirtioMmioSlot() {
        byte[] dsdt = install(new AcpiPlatform(1, true, List.of(SLOT0, SLOT1))).get("DSDT");
        String text = ascii(dsdt, 0, dsdt.length);
        assertEquals(2, text.split("LNRO0005", -1).length - 1);
        assertTrue(text.contains("VR00") && text.contains("VR01") && !text.contains("VR02"));
    }

    @Test
    void badPlatformsAreRejectedInOneLine() {
        assertEquals("vCPU count 0 is not between 1 and 255",
                assertThrows(IllegalArgumentException.class, () -> new AcpiPlatform(0, true, List.of())).getMessage());
        assertEquals("virtio-mmio device at 0xc0000000+0x1000 lies outside the virtio-mmio area [0xd0000000, 0xd0020000)",
                assertThrows(IllegalArgumentException.class,
                        () -> new AcpiPlatform.VirtioMmioSlot(X86Layout.PCI_MMIO_WINDOW, 0x1000, 16)).getMessage());
        assertEquals("virtio-mmio device at 0xd0000000 uses GSI 4; devices get GSIs 16-23",
                assertThrows(IllegalArgumentException.class,
                        () -> new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE, 0x1000, 4)).getMessage());
        AcpiPlatform.VirtioMmioSlot overlapping = new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE + 0x800, 0x1000, 17);
        assertEquals("virtio-mmio devices at 0xd0000000 and 0xd0000800 overlap",
                assertThrows(IllegalArgumentException.class, () -> new AcpiPlatform(1, true, List.of(overlapping, SLOT0))).getMessage());
    }

    @Test
    void aTableThatDoesNotFitTheAreaFailsNamingIt() {
        TableArea area = new TableArea(0x1000, 0x1100);
        area.add(Sdt.build("TST1", 1, new byte[100]));
        String message = assertThrows(IllegalArgumentException.class, () -> area.add(Sdt.build("TST2", 1, new byte[100]))).getMessage();
        assertEquals("ACPI tables do not fit in [0x1000, 0x1100): the TST2 (136 bytes) would end at 0x1118", message);
    }

    @Test
    void theLargestPlatformFitsTheArea() {
        List<AcpiPlatform.VirtioMmioSlot> slots = new ArrayList<>();
        for (int i = 0; i < X86Layout.VIRTIO_MMIO_MAX_DEVICES; i++) {
            slots.add(new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE + i * X86Layout.VIRTIO_MMIO_SLOT_SIZE,
                    X86Layout.VIRTIO_MMIO_SLOT_SIZE, X86Layout.FIRST_DEVICE_GSI + i % 8));
        }
        InstalledTables tables = install(new AcpiPlatform(AcpiPlatform.MAX_VCPUS, true, slots));
        assertEquals(AcpiPlatform.MAX_VCPUS * 8 + 8 + 12 + 10 + Sdt.HEADER_SIZE, tables.get("APIC").length);
    }

    private static byte[] slice(byte[] bytes, int offset, int length) {
        return java.util.Arrays.copyOfRange(bytes, offset, offset + length);
    }
}
