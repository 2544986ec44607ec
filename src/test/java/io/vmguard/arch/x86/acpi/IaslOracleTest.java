package io.vmguard.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.arch.x86.PciInterruptRouting;
import io.vmguard.arch.x86.X86Layout;
import io.vmguard.memory.GuestMemory;
import io.vmguard.pci.PciAddress;
import io.vmguard.testing.HostTool;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ACPICA's own tools as the oracle: {@code iasl -d} (Debian's acpica-tools) disassembles every table vmguard
 * writes, must report nothing wrong, and must see the devices and fields meant; and the disassembled DSDT,
 * compiled back by iasl, must give the very same AML, but for the End Tag checksums iasl leaves 0.
 */
class IaslOracleTest {
    private static final AcpiPlatform PLATFORM = new AcpiPlatform(2, true, List.of(
            new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE, X86Layout.VIRTIO_MMIO_SLOT_SIZE, 16),
            new AcpiPlatform.VirtioMmioSlot(X86Layout.VIRTIO_MMIO_BASE + X86Layout.VIRTIO_MMIO_SLOT_SIZE,
                    X86Layout.VIRTIO_MMIO_SLOT_SIZE, 17)),
            // iasl 20200925 cannot decode the VIOT (ViotTest has its own decoder), but the XSDT lists it.
            Optional.of(new Viot(new PciAddress(0, 6, 0), List.of(Viot.PciRange.bus(0)),
                    List.of(new Viot.MmioEndpoint(X86Layout.VIRTIO_MMIO_BASE, 0x10000)))));
    private static final Pattern COMPLAINT = Pattern.compile("(?im)^.*\\b(error|warning|incorrect|invalid)\\b.*$");

    @TempDir
    static Path dir;
    private static Path iasl;
    private static InstalledTables tables;

    @BeforeAll
    static void installTables() throws Exception {
        iasl = HostTool.require("iasl", "install Debian's acpica-tools (scripts/install-deps does)");
        try (GuestMemory memory = GuestMemory.allocate(X86Layout.ramRanges(X86Layout.MINIMUM_MEMORY))) {
            tables = InstalledTables.read(memory, AcpiTables.install(memory, PLATFORM));
        }
    }

    /** Writes a table, disassembles it, checks iasl's report is clean; returns the ASL. */
    private static String disassemble(String signature) throws Exception {
        Path file = dir.resolve(signature.toLowerCase() + ".dat");
        Files.write(file, tables.get(signature));
        String report = run(iasl.toString(), "-d", file.getFileName().toString());
        Path output = dir.resolve(signature.toLowerCase() + ".dsl");
        assertTrue(Files.isRegularFile(output), "iasl wrote no " + output.getFileName() + "\n" + report);
        String asl = Files.readString(output);
        assertNoComplaint(report);
        assertNoComplaint(asl);
        return asl;
    }

    private static void assertNoComplaint(String text) {
        Matcher complaint = COMPLAINT.matcher(text);
        if (complaint.find()) {
            throw new AssertionError("iasl: " + complaint.group().strip() + "\n" + text);
        }
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "iasl did not finish");
        assertEquals(0, process.exitValue(), String.join(" ", command) + "\n" + output);
        return output;
    }

    @Test
    void theDsdtDisassemblesToTheDevicesItDeclares() throws Exception {
        String asl = disassemble("DSDT");
        for (String expected : List.of(
                "Scope (\\_SB)",
                "Device (COM1)", "EisaId (\"PNP0501\")", "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )",
                "Device (RTC)", "EisaId (\"PNP0B00\")",
                "Device (PCI0)", "Name (_HID, EisaId (\"PNP0A08\")", "Name (_CID, EisaId (\"PNP0A03\")",
                "Name (_SEG, Zero)", "Name (_BBN, Zero)", "Name (_UID, Zero)",
                "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,",
                "0x0CF8,             // Range Minimum",
                "0x0CF7,             // Range Maximum",
                "0x0D00,             // Range Minimum",
                "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,",
                "0xC0000000,         // Range Minimum",
                "0xCFFFFFFF,         // Range Maximum",
                "Name (_PRT, Package (0x7C)",
                "Device (MRES)", "EisaId (\"PNP0C02\")", "0xE0000000,         // Address Base",
                "Device (VR00)", "Device (VR01)", "Name (_HID, \"LNRO0005\")",
                "0xD0001000,         // Address Base",
                "Interrupt (ResourceConsumer, Level, ActiveLow, Shared, ,, )")) {
            assertTrue(asl.contains(expected), "DSDT lacks " + expected + "\n" + asl);
        }
        assertEquals(2, count(asl, "\"LNRO0005\""));
    }

    @Test
    void theRoutingTableIasSeesIsPciInterruptRoutings() throws Exception {
        String asl = disassemble("DSDT");
        Matcher entry = Pattern.compile("Package \\(0x04\\)\\s*\\{\\s*0x00(\\w\\w)FFFF,\\s*(\\w+),\\s*Zero,\\s*0x(\\w\\w)\\s*}")
                .matcher(asl);
        List<String> seen = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int slot = PciInterruptRouting.FIRST_SLOT; slot <= PciInterruptRouting.LAST_SLOT; slot++) {
            for (int pin = 0; pin < PciInterruptRouting.PINS; pin++) {
                expected.add(slot + "/" + pin + "->" + PciInterruptRouting.gsi(slot, pin));
            }
        }
        while (entry.find()) {
            int pin = switch (entry.group(2)) {
                case "Zero" -> 0;
                case "One" -> 1;
                default -> Integer.decode(entry.group(2));
            };
            seen.add(Integer.parseInt(entry.group(1), 16) + "/" + pin + "->" + Integer.parseInt(entry.group(3), 16));
        }
        assertEquals(expected, seen);
    }

    @Test
    void theDsdtCompiledBackByIaslIsByteForByteOursButForEndTagChecksums() throws Exception {
        disassemble("DSDT");
        // -oa: no optimisations, or iasl would shorten \_SB to _SB_ at the root.
        run(iasl.toString(), "-oa", "-p", "recompiled", "dsdt.dsl");
        byte[] ours = tables.get("DSDT");
        byte[] theirs = Files.readAllBytes(dir.resolve("recompiled.aml"));
        assertEquals(ours.length, theirs.length);
        int endTagChecksums = 0;
        for (int i = Sdt.HEADER_SIZE; i < ours.length; i++) {
            if (ours[i] != theirs[i]) {
                boolean endTagChecksum = ours[i - 1] == 0x79 && theirs[i - 1] == 0x79 && theirs[i] == 0;
                assertTrue(endTagChecksum, String.format("AML differs at 0x%x: ours 0x%02x, iasl's 0x%02x", i, ours[i], theirs[i]));
                endTagChecksums++;
            }
        }
        assertTrue(endTagChecksums > 0, "our End Tags carry checksums, iasl's do not: some bytes must differ");
    }

    @Test
    void theFadtDisassemblesAsHardwareReducedWithTheDsdtAddress() throws Exception {
        String asl = disassemble("FACP");
        assertTrue(asl.contains("Revision : 06"), asl);
        assertTrue(asl.contains("Hardware Reduced (V5) : 1"), asl);
        assertTrue(asl.contains("8042 Present on ports 60/64 (V2) : 1"), asl);
        assertTrue(asl.contains(String.format("DSDT Address : %016X", tables.addresses().get("DSDT"))), asl);
    }

    @Test
    void theMadtDisassemblesToTwoCpusTheIoApicAndTheOverride() throws Exception {
        String asl = disassemble("APIC");
        assertEquals(2, count(asl, "Subtable Type : 00 [Processor Local APIC]"));
        assertEquals(1, count(asl, "Subtable Type : 01 [I/O APIC]"));
        assertTrue(asl.contains("Address : FEC00000"), asl);
        assertEquals(1, count(asl, "Subtable Type : 02 [Interrupt Source Override]"));
        assertTrue(asl.contains("Interrupt : 00000002"), asl);
    }

    @Test
    void theMcfgAndXsdtDisassembleToWhatTheyPointAt() throws Exception {
        String mcfg = disassemble("MCFG");
        assertTrue(mcfg.contains("Base Address : 00000000E0000000"), mcfg);
        assertTrue(mcfg.contains("End Bus Number : 00"), mcfg);
        String xsdt = disassemble("XSDT");
        for (String signature : List.of("FACP", "APIC", "MCFG", "VIOT")) {
            String address = String.format("%016X", tables.addresses().get(signature));
            assertTrue(xsdt.contains(address), signature + " at " + address + " missing from\n" + xsdt);
        }
    }

    private static int count(String text, String what) {
        return text.split(Pattern.quote(what), -1).length - 1;
    }
}
