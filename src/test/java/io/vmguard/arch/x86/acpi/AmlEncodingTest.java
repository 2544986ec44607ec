package io.vmguard.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * AML encodings against bytes worked out by hand from the ACPI 6.5 grammar (chapter 20) and resource
 * descriptor layouts (6.4), several of them also found verbatim in QEMU's and iasl's output.
 */
class AmlEncodingTest {
    private static byte[] hex(String text) {
        return HexFormat.of().parseHex(text.replace(" ", ""));
    }

    private static void assertEncodes(String expected, Aml aml) {
        assertEquals(expected.replace(" ", "").toLowerCase(), HexFormat.of().formatHex(aml.toBytes()));
    }

    @Test
    void namesEncodeAsSegmentsWithTheirPrefixes() {
        assertEncodes("08 5f484944 00", Aml.name("_HID", Aml.integer(0)));
        // \_SB.PCI0: root prefix, DualNamePrefix, two segments.
        assertEncodes("10 0b 5c 2e 5f53425f 50434930", Aml.scope("\\_SB.PCI0"));
        // Three segments take MultiNamePrefix and a count; a short segment is padded with '_'.
        assertEncodes("10 10 5c 2f 03 5f53425f 50434930 5254435f", Aml.scope("\\_SB.PCI0.RTC"));
        assertEncodes("10 06 5e 56523030", Aml.scope("^VR00"));
        assertEncodes("10 03 5c 00", Aml.scope("\\"));
    }

    @Test
    void badNamesAreRejectedWithTheReason() {
        assertEquals("bad AML name \"PCI00\": segments are 1 to 4 characters",
                assertThrows(IllegalArgumentException.class, () -> NameString.of("PCI00")).getMessage());
        assertEquals("bad AML name \"0ABC\": NameSeg \"0ABC\" has '0' at 0 (A-Z, _ or, after the first, 0-9)",
                assertThrows(IllegalArgumentException.class, () -> NameString.of("0ABC")).getMessage());
        assertEquals("bad AML name \"\\_SB..X\": segments are 1 to 4 characters",
                assertThrows(IllegalArgumentException.class, () -> NameString.of("\\_SB..X")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> NameString.of("pci0"));
    }

    @Test
    void integersTakeTheShortestEncoding() {
        assertEncodes("00", Aml.integer(0));
        assertEncodes("01", Aml.integer(1));
        assertEncodes("0a 02", Aml.integer(2));
        assertEncodes("0a ff", Aml.integer(0xff));
        assertEncodes("0b 00 01", Aml.integer(0x100));
        assertEncodes("0c ff ff 01 00", Aml.integer(0x1ffff));
        assertEncodes("0c 00 00 00 e0", Aml.integer(0xe000_0000L));
        assertEncodes("0e 00 00 00 00 01 00 00 00", Aml.integer(1L << 32));
        assertEncodes("0e ff ff ff ff ff ff ff ff", Aml.integer(-1));
    }

    @Test
    void eisaIdsCompressToTheIntegersIaslMakes() {
        // Name (_HID, EisaId ("PNP0A03")) as it appears in QEMU's DSDT.
        assertEncodes("08 5f484944 0c 41 d0 0a 03", Aml.name("_HID", Aml.eisaId("PNP0A03")));
        assertEquals(0x080ad041L, Aml.eisaId("PNP0A08").value());
        assertEquals(0x0105d041L, Aml.eisaId("PNP0501").value());
        assertThrows(IllegalArgumentException.class, () -> Aml.eisaId("PNP0A0"));
        assertThrows(IllegalArgumentException.class, () -> Aml.eisaId("pnp0a03"));
    }

    @Test
    void stringsAreNulTerminatedAscii() {
        assertEncodes("08 5f484944 0d 4c4e524f30303035 00", Aml.name("_HID", Aml.string("LNRO0005")));
        assertThrows(IllegalArgumentException.class, () -> Aml.string("caf\u00e9"));
    }

    @Test
    void devicesAndPackagesCarryTheirPackageLength() {
        // Device (VR00) { Name (_UID, Zero) }: 4 name bytes + 6 for the Name, plus the PkgLength byte itself.
        assertEncodes("5b 82 0b 56523030 08 5f554944 00", Aml.device("VR00", Aml.name("_UID", Aml.integer(0))));
        // Package () { One, 0x0A }: count, One, BytePrefix 0x0A.
        assertEncodes("12 05 02 01 0a 0a", Aml.pkg(Aml.integer(1), Aml.integer(10)));
    }

    @Test
    void packageLengthsGrowToMoreBytesAtTheirLimits() {
        assertArrayEquals(hex("3f"), packageLength(62));
        // 63 body bytes: 65 with a 2-byte PkgLength = 0x41; lead byte 0x40 | low nibble 1, then 0x41 >> 4.
        assertArrayEquals(hex("41 04"), packageLength(63));
        assertArrayEquals(hex("4f ff"), packageLength(4093));
        // 4094 body bytes no longer fit 12 bits with 2 PkgLength bytes: 4097 = 0x1001 in 3.
        assertArrayEquals(hex("81 00 01"), packageLength(4094));
        // The largest 3-byte length, 0xFFFFF, then the first that needs 4 bytes.
        assertArrayEquals(hex("8f ff ff"), packageLength(0xfffff - 3));
        assertArrayEquals(hex("c1 00 00 01"), packageLength(0xfffff - 2));
    }

    private static byte[] packageLength(int body) {
        ByteWriter out = new ByteWriter();
        AmlEncoder.packageLength(body, out);
        return out.toArray();
    }

    @Test
    void resourceDescriptorsMatchTheirSpecifiedLayouts() {
        // IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08) and WordBusNumber (..., 0x0000, 0x00FF, ...): QEMU's PCI0 _CRS.
        assertEquals("4701f80cf80c0108", descriptor(new Resource.Io(0xcf8, 0xcf8, 1, 8)));
        assertEquals("880d00020c0000000000ff0000000001", descriptor(new Resource.WordBusNumber(0, 0xff)));
        assertEquals("880d00010c0300000000f70c0000f80c", descriptor(new Resource.WordIo(0, 0xcf7)));
        assertEquals("871700000c0100000000000000c0ffffffcf0000000000000010",
                descriptor(new Resource.DWordMemory(0xc000_0000L, 0xcfff_ffffL)));
        assertEquals("8609000100000ed000100000", descriptor(new Resource.Memory32Fixed(0xd00e_0000L, 0x1000)));
        // Interrupt (ResourceConsumer, Edge, ActiveLow, Shared) { 9 }: flags consumer 1 | edge 2 | low 4 | shared 8.
        assertEquals("8906000f0109000000",
                descriptor(new Resource.Interrupt(Resource.Trigger.EDGE, Resource.Polarity.ACTIVE_LOW, true, 9)));
    }

    /** One descriptor's bytes: the template less its End Tag. */
    private static String descriptor(Resource resource) {
        byte[] bytes = ResourceTemplate.of(resource).descriptorBytes();
        return HexFormat.of().formatHex(bytes, 0, bytes.length - 2);
    }

    @Test
    void aResourceTemplateIsABufferEndingInAChecksummedEndTag() {
        // A virtio-mmio device's _CRS. Descriptor bytes sum to 0x28a with the End Tag's 0x79: checksum 0x76.
        ResourceTemplate template = ResourceTemplate.of(
                new Resource.Memory32Fixed(0xd000_0000L, 0x1000),
                new Resource.Interrupt(Resource.Trigger.LEVEL, Resource.Polarity.ACTIVE_HIGH, false, 0x10));
        assertEncodes("11 1a 0a 17"
                + " 86 09 00 01 000000d0 00100000"
                + " 89 06 00 01 01 10000000"
                + " 79 76", template);
    }

    @Test
    void resourcesRejectRangesTheirFieldsCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> new Resource.Io(0x10, 0x0f, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new Resource.WordBusNumber(0, 0x100));
        assertEquals("WordIO window of all 65536 ports has a length a word cannot hold; split it",
                assertThrows(IllegalArgumentException.class, () -> new Resource.WordIo(0, 0xffff)).getMessage());
        assertEquals("Memory32Fixed 0xfffff000+0x2000 is not a range below 4 GiB",
                assertThrows(IllegalArgumentException.class, () -> new Resource.Memory32Fixed(0xffff_f000L, 0x2000)).getMessage());
    }
}
