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
import io.vmguard.pci.PciAddress;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ViotTest {
    /**
     * The VIOT body (after the 36-byte header) of QEMU's q35 with a virtio-iommu at 00:06.0, as iasl dumps
     * it in QEMU's cover letter (qemu-devel, 2021-10): node count 2 at offset 0x30; a virtio-pci IOMMU node
     * (type 3, length 0x10, segment 0, BDF 0x0030); a PCI range node (type 1, length 0x18, endpoint start 0,
     * segments 0-0, BDF 0x0000-0x00FF, output node 0x0030).
     */
    private static final byte[] QEMU_BODY = HexFormat.of().parseHex(
            "0200" + "3000" + "0000000000000000"
                    + "03001000" + "0000" + "3000" + "0000000000000000"
                    + "01001800" + "00000000" + "0000" + "0000" + "0000" + "ff00" + "3000" + "000000000000");
    private static final AcpiPlatform.VirtioMmioSlot SLOT0 = new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE, 0x1000, 16);
    private static final AcpiPlatform.VirtioMmioSlot SLOT1 = new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE + 0x1000, 0x1000, 17);
    private static final PciAddress IOMMU = new PciAddress(0, 6, 0);

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

    private static AcpiPlatform withIommu(Viot viot, AcpiPlatform.VirtioMmioSlot... slots) {
        return new AcpiPlatform(1, true, List.of(slots), Optional.of(viot));
    }

    /** QEMU's table as its header and the dumped body: what the decoder is checked against first. */
    private static byte[] qemuTable() {
        byte[] table = new byte[Sdt.HEADER_SIZE + QEMU_BODY.length];
        byte[] header = new ByteWriter().ascii("VIOT", 4).u32(table.length).u8(0).u8(0).ascii("BOCHS ", 6).ascii("BXPC    ", 8)
                .u32(1).ascii("BXPC", 4).u32(1).toArray();
        System.arraycopy(header, 0, table, 0, header.length);
        System.arraycopy(QEMU_BODY, 0, table, Sdt.HEADER_SIZE, QEMU_BODY.length);
        table[Sdt.CHECKSUM_OFFSET] = Checksum.of(table, 0, table.length);
        return table;
    }

    @Test
    void theDecoderReadsQemusDumpAsTheCoverLetterDescribesIt() {
        ViotDecoder viot = ViotDecoder.decode(qemuTable());
        assertEquals(0x30, viot.nodeOffset());
        assertEquals(List.of(new ViotDecoder.VirtioPciIommu(0x30, 0, 0x0030),
                new ViotDecoder.PciRange(0x40, 0, 0, 0, 0x0000, 0x00ff, 0x0030)), viot.nodes());
        assertEquals(0x58, qemuTable().length);
    }

    @Test
    void aVirtioPciIommuWithTheWholeBusBehindItIsQemusTableByteForByte() {
        byte[] table = install(withIommu(new Viot(IOMMU, List.of(Viot.PciRange.bus(0)), List.of()))).get("VIOT");
        assertEquals("VIOT", ascii(table, 0, 4));
        assertEquals(table.length, le(table).getInt(Sdt.LENGTH_OFFSET));
        assertEquals(0, Checksum.sum(table, 0, table.length), "checksum");
        assertEquals(0, table[8], "revision 0, as QEMU and crosvm");
        assertEquals("VMGARD", ascii(table, 10, 6));
        assertArrayEquals(QEMU_BODY, Arrays.copyOfRange(table, Sdt.HEADER_SIZE, table.length));
        assertEquals(ViotDecoder.decode(qemuTable()).nodes(), ViotDecoder.decode(table).nodes());
    }

    @Test
    void everyPciFunctionInARangeHasItsBdfAsEndpointIdAndEveryNodeOutputsToTheIommu() {
        PciAddress disk = new PciAddress(0, 2, 0);
        PciAddress net = new PciAddress(0, 3, 0);
        Viot description = new Viot(new PciAddress(0, 1, 0), List.of(Viot.PciRange.of(disk), Viot.PciRange.of(net)), List.of());
        ViotDecoder viot = ViotDecoder.decode(install(withIommu(description)).get("VIOT"));
        assertEquals(List.of(new ViotDecoder.VirtioPciIommu(0x30, 0, 0x08)), viot.nodes(ViotDecoder.VirtioPciIommu.class));
        List<ViotDecoder.PciRange> ranges = viot.nodes(ViotDecoder.PciRange.class);
        assertEquals(2, ranges.size());
        assertEquals(0x10, Viot.bdf(disk));
        assertEquals(0x10, ranges.get(0).endpointId(0, 0x10));
        assertEquals(0x18, ranges.get(1).endpointId(0, 0x18));
        for (ViotDecoder.PciRange range : ranges) {
            assertEquals(0x30, range.outputNode());
            assertEquals(range.bdfStart(), range.bdfEnd(), "one function each");
        }
        ViotDecoder.PciRange wholeBus = ViotDecoder.decode(install(withIommu(new Viot(IOMMU, List.of(Viot.PciRange.bus(0)), List.of())))
                .get("VIOT")).nodes(ViotDecoder.PciRange.class).getFirst();
        for (int bdf = 0; bdf <= 0xff; bdf++) {
            assertEquals(bdf, wholeBus.endpointId(0, bdf));
        }
    }

    @Test
    void virtioMmioEndpointsAreNamedByTheBaseTheDsdtDeclaresWithTheirOwnIds() {
        Viot description = new Viot(IOMMU, List.of(Viot.PciRange.bus(0)),
                List.of(new Viot.MmioEndpoint(SLOT0.base(), 0x10000), new Viot.MmioEndpoint(SLOT1.base(), 0x10001)));
        InstalledTables tables = install(withIommu(description, SLOT0, SLOT1));
        ViotDecoder viot = ViotDecoder.decode(tables.get("VIOT"));
        assertEquals(List.of(new ViotDecoder.MmioEndpoint(0x58, 0x10000, SLOT0.base(), 0x30),
                new ViotDecoder.MmioEndpoint(0x70, 0x10001, SLOT1.base(), 0x30)), viot.nodes(ViotDecoder.MmioEndpoint.class));
        assertEquals(4, viot.nodes().size());
        assertEquals(Sdt.HEADER_SIZE + 12 + 16 + 24 + 2 * 24, tables.get("VIOT").length);
        String dsdt = ascii(tables.get("DSDT"), 0, tables.get("DSDT").length);
        assertTrue(dsdt.contains("VR00") && dsdt.contains("VR01"), "the endpoints have ACPI companions");
    }

    @Test
    void theXsdtListsTheViotOnlyWhenThereIsAnIommuAndTheOtherTablesStayAsTheyWere() {
        InstalledTables without = install(new AcpiPlatform(2, true, List.of(SLOT0)));
        assertFalse(without.tables().containsKey("VIOT"));
        byte[] madt = without.get("APIC");
        byte[] mcfg = without.get("MCFG");
        byte[] dsdt = without.get("DSDT");

        InstalledTables with = install(new AcpiPlatform(2, true, List.of(SLOT0),
                Optional.of(new Viot(IOMMU, List.of(Viot.PciRange.bus(0)), List.of()))));
        assertEquals(List.of("XSDT", "FACP", "APIC", "MCFG", "VIOT", "DSDT"), List.copyOf(with.tables().keySet()));
        byte[] xsdt = with.get("XSDT");
        assertEquals(Sdt.HEADER_SIZE + 4 * 8, xsdt.length);
        assertEquals(with.addresses().get("VIOT"), le(xsdt).getLong(Sdt.HEADER_SIZE + 3 * 8));
        assertEquals(0, Checksum.sum(xsdt, 0, xsdt.length));
        assertArrayEquals(madt, with.get("APIC"));
        assertArrayEquals(mcfg, with.get("MCFG"));
        assertArrayEquals(dsdt, with.get("DSDT"), "the DSDT does not change with the IOMMU");
    }

    @Test
    void theHostBridgeHasTheAcpiCompanionLinuxConfiguresPciDmaThrough() {
        byte[] dsdt = install(withIommu(new Viot(IOMMU, List.of(Viot.PciRange.bus(0)), List.of()))).get("DSDT");
        // Device (PCI0) with _HID EisaId ("PNP0A08") = 0x080AD041, _CID EisaId ("PNP0A03") = 0x030AD041.
        String text = HexFormat.of().formatHex(dsdt);
        assertTrue(ascii(dsdt, 0, dsdt.length).contains("PCI0"));
        assertTrue(text.contains("5f4849440c41d00a08"), "_HID PNP0A08");
        assertTrue(text.contains("5f4349440c41d00a03"), "_CID PNP0A03");
    }

    @Test
    void descriptionsLinuxWouldMisreadAreRejectedInOneLine() {
        assertEquals("VIOT PCI ranges 0x0-0xff and 0x10-0x10 overlap", assertThrows(IllegalArgumentException.class,
                () -> new Viot(IOMMU, List.of(Viot.PciRange.bus(0), new Viot.PciRange(0x10, 0x10)), List.of())).getMessage());
        assertEquals("VIOT endpoint ID 0x30 of the virtio-mmio device at 0xd0000000 is also a PCI endpoint's (range 0x0-0xff)",
                assertThrows(IllegalArgumentException.class, () -> new Viot(IOMMU, List.of(Viot.PciRange.bus(0)),
                        List.of(new Viot.MmioEndpoint(SLOT0.base(), 0x30)))).getMessage());
        assertEquals("VIOT endpoint ID 0x10000 is given twice", assertThrows(IllegalArgumentException.class,
                () -> new Viot(IOMMU, List.of(), List.of(new Viot.MmioEndpoint(SLOT0.base(), 0x10000),
                        new Viot.MmioEndpoint(SLOT1.base(), 0x10000)))).getMessage());
        assertEquals("bad VIOT PCI range 0x20-0x10",
                assertThrows(IllegalArgumentException.class, () -> new Viot.PciRange(0x20, 0x10)).getMessage());
        assertEquals("VIOT names a virtio-mmio endpoint at 0xd0001000, where the DSDT declares no virtio-mmio device",
                assertThrows(IllegalArgumentException.class, () -> withIommu(new Viot(IOMMU, List.of(),
                        List.of(new Viot.MmioEndpoint(SLOT1.base(), 0x10000))), SLOT0)).getMessage());
        assertEquals("a virtio-pci IOMMU needs the PCI host bridge", assertThrows(IllegalArgumentException.class,
                () -> new AcpiPlatform(1, false, List.of(), Optional.of(new Viot(IOMMU, List.of(), List.of())))).getMessage());
    }

    @Test
    void theDecoderRefusesWhatLinuxWouldStopAtOrSkip() {
        byte[] table = install(withIommu(new Viot(IOMMU, List.of(Viot.PciRange.bus(0)), List.of()))).get("VIOT");
        byte[] shortNode = table.clone();
        shortNode[0x40 + 2] = 0x10; // a PCI range node of 16 bytes: Linux stops parsing there
        fixChecksum(shortNode);
        assertThrows(AssertionError.class, () -> ViotDecoder.decode(shortNode));
        byte[] badOutput = table.clone();
        badOutput[0x40 + 16] = 0x40; // output node pointing at the range itself
        fixChecksum(badOutput);
        assertThrows(AssertionError.class, () -> ViotDecoder.decode(badOutput));
        byte[] badSum = table.clone();
        badSum[0x30 + 6]++;
        assertThrows(AssertionError.class, () -> ViotDecoder.decode(badSum));
    }

    private static void fixChecksum(byte[] table) {
        table[Sdt.CHECKSUM_OFFSET] = 0;
        table[Sdt.CHECKSUM_OFFSET] = Checksum.of(table, 0, table.length);
    }
}
